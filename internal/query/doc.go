// Package query answers what caravan knows of its runs: every command that
// lists or looks up runs (ls, status, show, logs, stop, rerun, report) and
// the plan's view of what exists (gitops) read them here, so that they
// agree by construction.
//
// A run is known from its job (listed with its meta, so one listing holds
// thousands of runs) and from its record in Nomad Variables (listed by path
// only). Records are read one by one only for runs whose job Nomad has
// garbage-collected, and only when the caller wants their details.
//
// A run that waits for others (depends_on) has neither job nor record,
// only a gate; listings read gates too, and WaitOf (wait.go) says how far
// the runs it waits for are: "waiting for preprocess (2 of 3 runs done)",
// or "blocked by preprocess-1234abcd (failed)". The controller decides
// releases with the same function.
//
// The package does no I/O of its own: it calls the small Source interface,
// which *nomad.Client satisfies, and turns the answers into rows.
package query
