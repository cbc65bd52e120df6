// Package gitops turns a configuration directory's declared runs into what
// must happen in Nomad, and makes it happen.
//
// The plan itself, the diff of desired and actual runs and the saved plan
// file, is pure and lives in internal/gitops/plan. This package is its
// I/O edge: Actual turns the runs internal/query lists into the plan's
// actual side, and Apply executes a plan.
//
// A run that depends on others (record.MetaWaitFor) is not registered:
// Apply writes its gate (gate.go), create-only, which the controller turns
// into the job once the runs it waits for completed; plans list gated runs
// as present, waiting or blocked, and -prune removes the gate of one no
// longer declared.
//
// Apply executes a plan through a small interface that *nomad.Client
// satisfies: each job is registered only if absent (enforce index 0), so
// two racing applies never submit a run twice; the controller writes each
// run's record from its job. The runs of one experiment are registered one
// after another in sweep order, since Nomad considers queued runs of one
// priority in registration order, and experiments side by side, with
// bounded parallelism; apply stops at the first failure, reporting exactly
// what was and was not submitted; a repeated apply finishes the work.
// Before it registers anything, apply keeps the plan's configuration
// snapshot (spec.SnapshotOf) in each namespace it submits to, and every
// job names it, so that `caravan rerun -param` can clone a run.
//
// RerunID and Rerun reproduce a recorded run: the recorded job, unchanged
// but for its identity, under "<experiment>-<8 hex of sha256(original ID,
// ordinal)>", with caravan_rerun_of naming the original.
package gitops
