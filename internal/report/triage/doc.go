// Package triage is the pure centre of caravan's run reports: Triage turns
// an Input (the run's record, the agent's usage summary, Nomad's
// allocations with their task events, and a tail of stderr) into a Report
// that says why the run ended (OOM kill, CUDA out of memory, GPU XID error,
// lost node, timeout, user error), what it used, and whether its memory grew
// steadily. Compare sets runs side by side on the metrics they wrote.
//
// It has no clocks, network or files of its own, so that every finding can
// be tested from hand-built inputs; internal/layering_test.go keeps it that
// way by checking its imports transitively. It reads Nomad's api package for
// its types only. Gathering the inputs and rendering a Report as text, JSON
// or PNG stay in internal/report.
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
// Compare ranks each metric's last and best value per run, best by the
// metric's goal (min for loss-like names, max otherwise; a caller may
// override it), and names the best run.
package triage
