// Package controller is the part of caravan's long-running cluster service
// that looks after runs: it keeps their history, writing the record of
// every caravan job it sees so that a run's history outlives its job once
// Nomad's garbage collector removes it (Records, records.go), and it starts
// the runs that wait for others (depends_on) once those completed
// (Dependencies, dependencies.go). It also watches runs whose experiment
// sets a stall_timeout, marking those that hang and stopping them under
// on_stall = "stop" (Stalls, stall.go, which says why that lives here and
// not in the node agent).
//
// apply, run and rerun register jobs only; each job carries everything its
// record holds (internal/record.FromJob). The controller follows Nomad's
// event stream for new jobs and re-reads the whole cluster now and then,
// so a job registered while it was down, or an event it missed, still gets
// its record. Every write is create-only (check-and-set on index 0), so two
// controllers, or a controller and an old caravan that still writes
// records at apply time, never overwrite each other.
//
// A run that depends on others has no job until it is released: apply
// writes its gate (internal/record.Gate), and Dependencies registers the
// gate's job when every run it waits for completed, or a rerun of it did.
// It follows allocation events and looks at every gate now and then; each
// release is marked on the gate (check-and-set) before the job is
// registered create-only, and the gate goes only after the job and its
// record exist, so that a controller stopped at any step, or two running at
// once, start every run exactly once.
package controller
