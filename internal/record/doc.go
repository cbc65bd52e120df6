// Package record holds the data that several parts of caravan read and
// write about a run, and nothing else: the run record and usage summary kept
// in Nomad Variables, the autoscaler's daily cost records, the gate of a run
// waiting for others, the job meta keys every compiled job carries, and the
// mapping of what Nomad knows of a job to a run State.
//
// It is to caravan what terraform-json is to terraform-exec: plain types
// with no I/O, so that readers of runs (the agent, reports, the autoscaler)
// depend on the shape of the data and not on the code that fetches it or on
// the compiler that produced it. Every meta key is a valid NOMAD_META_* name.
package record
