// Package report explains a finished or running caravan run: it gathers
// what triage needs and renders the result. The judging itself (why the run
// ended, what it used, whether its memory leaked, how runs compare) is the
// pure package internal/report/triage; this package is its edges.
//
// Gather is the one edge that reads the inputs (the run's record, the
// agent's usage summary, Nomad's allocations with their task events, and a
// tail of stderr), through the small Source interface that *nomad.Client
// satisfies via internal/cli. WriteText, JSON marshalling and WritePNG
// render a triage.Report; WriteComparePNG draws one compared metric over
// steps.
package report
