// Package controller is the part of caravan's long-running cluster service
// that keeps runs' history: it writes the record of every caravan job it
// sees, so that a run's history outlives its job once Nomad's garbage
// collector removes it.
//
// apply, run and rerun register jobs only; each job carries everything its
// record holds (internal/record.FromJob). The controller follows Nomad's
// event stream for new jobs and re-reads the whole cluster now and then,
// so a job registered while it was down, or an event it missed, still gets
// its record. Every write is create-only (check-and-set on index 0), so two
// controllers, or a controller and an old caravan that still writes
// records at apply time, never overwrite each other.
package controller
