// Package plan is gitops' pure core: it diffs the desired runs (compiled
// from a configuration directory) with the actual runs caravan owns in
// Nomad (found by job meta and by run records in Variables) and says, per
// experiment, which runs to create, which are already there whatever their
// state, and which are no longer declared.
//
// Run IDs are content addressed, so "the same run" is "the same ID": a
// finished run is history, never something to redo, and a run whose job
// Nomad garbage-collected still counts as present through its record.
// Runs submitted outside a directory (caravan run, caravan rerun; job meta
// caravan_origin) are never "no longer declared".
//
// A saved plan (caravan plan -out) carries the compiled jobs and records, so
// applying it reads no files. Its Basis holds a hash of the declared set and
// a hash of the run IDs present in Nomad in the plan's scope; CheckFresh
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
// The package reads no clock, network or file of its own: plans are read
// and written through an io.Reader and io.Writer. Listing what is in Nomad
// and applying a plan are internal/gitops's.
package plan
