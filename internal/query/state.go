package query

import (
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// RunState maps what Nomad knows of a run's job to its state. job and
// summary may be nil (job purged or garbage-collected: only the record
// remains). It is pure: the caller fetches job, summary and allocations.
// Without allocations it falls back to the summary's counts, which cannot
// tell a run stopped after it ended from one that ended by itself (it
// reports the ending).
//
// Allocations replaced by a reschedule (NextAllocation set) are history:
// a failed allocation whose replacement runs makes a running run. A failed
// allocation awaiting its reschedule (FollowupEvalID set, no replacement
// yet) makes the run queued again.
func RunState(job *api.Job, summary *api.JobSummary, allocs []*api.AllocationListStub) record.State {
	if job == nil && len(allocs) == 0 {
		return record.StateUnknown
	}
	var running, pending, lost, failed, complete, killed, awaiting int
	for _, a := range allocs {
		if a.NextAllocation != "" {
			continue
		}
		switch a.ClientStatus {
		case "running":
			running++
		case "pending":
			if a.DesiredStatus == "run" || a.DesiredStatus == "" {
				pending++
			} else {
				killed++
			}
		case "lost", "unknown":
			lost++
		case "failed":
			if a.DesiredStatus == "stop" && stoppedByUser(a) {
				killed++
			} else if a.FollowupEvalID != "" {
				awaiting++
			} else {
				failed++
			}
		case "complete":
			if strings.Contains(a.ClientDescription, "max_run_duration") {
				// Nomad stopped it at its timeout and calls that
				// complete; the run did not finish.
				failed++
				continue
			}
			if a.DesiredStatus == "stop" || a.DesiredStatus == "evict" {
				if stoppedByUser(a) {
					killed++
				} else {
					complete++
				}
			} else {
				complete++
			}
		}
	}
	stopped := job != nil && job.Stop != nil && *job.Stop
	if len(allocs) == 0 && summary != nil {
		// No allocation details (garbage-collected, or the caller listed
		// jobs only): the summary's counts say nearly as much.
		for _, g := range summary.Summary {
			running += g.Running
			pending += g.Starting
			lost += g.Lost + g.Unknown
			failed += g.Failed
			complete += g.Complete
		}
		if stopped && running+pending > 0 {
			return record.StateStopped
		}
		if stopped && summaryQueued(summary)+running+pending+lost+failed+complete == 0 {
			return record.StateStopped
		}
		stopped = false
	}
	if stopped {
		// Whatever still runs is being stopped; what ended on its own before
		// the stop keeps its outcome.
		if running+pending+killed+awaiting > 0 || len(allocs) == 0 {
			return record.StateStopped
		}
	}
	queued := summaryQueued(summary)
	if moving(allocs) {
		return record.StateMoving
	}
	switch {
	case running > 0:
		return record.StateRunning
	case pending > 0:
		return record.StateStarting
	case queued > 0 || awaiting > 0:
		return record.StateQueued
	case lost > 0:
		return record.StateLost
	case failed > 0:
		return record.StateFailed
	case killed > 0:
		return record.StateStopped
	case complete > 0:
		return record.StateComplete
	}
	if job != nil && job.Status != nil && *job.Status == "dead" {
		return record.StateStopped
	}
	return record.StateQueued
}

// stoppedByUser reports whether an allocation's tasks were killed rather
// than exiting on their own: Nomad records a "Killed" or "Killing" event.
func stoppedByUser(a *api.AllocationListStub) bool {
	for _, ts := range a.TaskStates {
		for _, e := range ts.Events {
			if e.Type == "Killed" || e.Type == "Killing" {
				return true
			}
		}
	}
	return a.DesiredStatus == "stop"
}

func summaryQueued(s *api.JobSummary) int {
	if s == nil {
		return 0
	}
	n := 0
	for _, g := range s.Summary {
		n += g.Queued
	}
	return n
}

// moving reports whether a run is between two allocations because its job
// was updated (how caravan moves a run): the old one, told to stop, still
// runs its checkpoint, or its replacement has not started yet.
func moving(allocs []*api.AllocationListStub) bool {
	byID := make(map[string]*api.AllocationListStub, len(allocs))
	for _, a := range allocs {
		byID[a.ID] = a
	}
	for _, a := range allocs {
		if a.NextAllocation == "" || a.DesiredStatus != api.AllocDesiredStatusStop {
			continue
		}
		if a.ClientStatus == api.AllocClientStatusRunning {
			return true
		}
		// A lost or failed allocation's replacement is a reschedule,
		// not a move.
		if next := byID[a.NextAllocation]; a.ClientStatus == api.AllocClientStatusComplete && next != nil &&
			next.ClientStatus == api.AllocClientStatusPending && next.DesiredStatus == api.AllocDesiredStatusRun {
			return true
		}
	}
	return false
}
