// Package gitops turns a configuration directory's declared runs into what
// must happen in Nomad, and makes it happen.
//
// Plan is pure: it diffs the desired runs (compiled from the files) with the
// actual runs caravan owns in Nomad (found by job meta and by run records in
// Variables) and says, per experiment, which runs to create, which are
// already there whatever their state, and which are no longer declared.
// Run IDs are content addressed, so "the same run" is "the same ID": a
// finished run is history, never something to redo.
//
// Apply executes a plan through a small interface that *nomad.Client
// satisfies: each job is registered only if absent (enforce index 0), so
// two racing applies never submit a run twice, and each new run's record is
// written right after its job. Registration runs with bounded parallelism
// and stops dispatching at the first failure, reporting exactly what was and
// was not submitted; a repeated apply finishes the work.
package gitops
