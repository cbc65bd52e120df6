// Package query answers what caravan knows of its runs, its node pools and
// what they cost: every command that lists or looks up runs (ls, status,
// show, logs, stop, rerun, report), that shows pools (status, pools) or
// costs (cost, pools), and the plan's view of what exists (gitops) read
// them here, so that they agree by construction.
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
// Pools (pools.go) counts each Nomad node pool's queued and running runs,
// nodes and free GPUs, and says why queued runs wait. Costs (cost.go) come
// from the autoscaler's hourly records where it keeps them (SumCost), else
// from the GPU time the runs held (CostFromRuns, and UseByNodePool for the
// node pool each run ran on).
//
// The package does no I/O of its own: it calls the small Source interface,
// which *nomad.Client satisfies, and turns the answers into rows.
package query
