// Package report explains a finished or running caravan run: why it ended
// (OOM kill, CUDA out of memory, GPU XID error, lost node, timeout, user
// error), what it used and cost, and whether its memory grew steadily.
//
// The centre is pure: Triage turns an Input (the run's record, the agent's
// usage summary, Nomad's allocations with their task events, and a tail of
// stderr) into a Report without clocks, network or files. Gather is the one
// edge that reads those inputs, through the small Source interface that
// *nomad.Client satisfies via internal/cli. WriteText, JSON marshalling and
// WritePNG render a Report.
//
// An OOM kill is judged on evidence from three places, because Nomad's own
// oom_killed flag is false for some drivers: Nomad's task event, the OOM
// kills the agent counted in the run's cgroups or the kernel log, and a
// SIGKILL with memory at, or growing into, its limit. A figure the agent
// had no source for is reported as "no data", never as 0.
//
// A run the controller found stalled (its stall marker, record.Stall) is
// reported as such: "stalled since 15:46 UTC after step 3", not as the
// timeout or the stop that ended it.
//
// Compare (compare.go) sets runs side by side on the metrics they wrote to
// $CARAVAN_METRICS: each metric's last and best value per run, best by the
// metric's goal (min for loss-like names, max otherwise; -best overrides),
// and the best run; WriteComparePNG draws one metric over steps.
package report
