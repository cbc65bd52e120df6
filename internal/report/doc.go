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
package report
