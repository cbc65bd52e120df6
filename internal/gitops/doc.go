// Package gitops turns a configuration directory's declared runs into what
// must happen in Nomad, and makes it happen.
//
// Plan is pure: it diffs the desired runs (compiled from the files) with the
// actual runs caravan owns in Nomad (found by job meta and by run records in
// Variables) and says, per experiment, which runs to create, which are
// already there whatever their state, and which are no longer declared.
// Run IDs are content addressed, so "the same run" is "the same ID": a
// finished run is history, never something to redo, and a run whose job
// Nomad garbage-collected still counts as present through its record.
// Runs submitted outside a directory (caravan run, caravan rerun; job meta
// caravan_origin) are never "no longer declared".
//
// A saved plan (caravan plan -out) carries the compiled jobs and records, so
// applying it reads no files. Its Basis holds a hash of the declared set and
// a hash of the run IDs present in Nomad in the plan's scope; apply -plan
// recomputes the latter and refuses with ErrStale when it moved (another
// apply, a stop, a garbage collection). Nomad's raw job index is not used:
// it moves with every status change of any job, which would make every
// saved plan stale within seconds on a busy cluster.
//
// A saved plan is also bound to what plan computed (planfile.go): each
// run's job and record carry a SHA-256, and the plan a digest of
// everything in it, an HMAC when CARAVAN_PLAN_KEY is set. ReadPlan refuses
// a plan whose jobs, records, lists or basis were edited (ErrTampered,
// naming the run), so apply -plan registers only jobs that caravan
// compiled; with the key, only a holder of the key can produce a plan
// that passes.
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
