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
	t := tallyAllocs(allocs)
	stopped := job != nil && job.Stop != nil && *job.Stop
	if len(allocs) == 0 && summary != nil {
		// No allocation details (garbage-collected, or the caller listed
		// jobs only): the summary's counts say nearly as much.
		t.addSummary(summary)
		if stopped && (t.running+t.pending > 0 || summaryQueued(summary)+t.seen() == 0) {
			return record.StateStopped
		}
		stopped = false
	}
	if stopped {
		// Whatever still runs is being stopped; what ended on its own before
		// the stop keeps its outcome.
		if t.running+t.pending+t.killed+t.awaiting > 0 || len(allocs) == 0 {
			return record.StateStopped
		}
	}
	if moving(allocs) {
		return record.StateMoving
	}
	if s, ok := t.state(summaryQueued(summary)); ok {
		return s
	}
	if job != nil && job.Status != nil && *job.Status == "dead" {
		return record.StateStopped
	}
	return record.StateQueued
}

// allocTally counts a run's latest allocations by what became of them.
type allocTally struct {
	running, pending, lost, failed, complete, killed, awaiting int
}

// tallyAllocs counts allocs, skipping those Nomad has replaced: only the
// newest attempt says where the run stands.
func tallyAllocs(allocs []*api.AllocationListStub) allocTally {
	var t allocTally
	for _, a := range allocs {
		if a.NextAllocation == "" {
			t.add(a)
		}
	}
	return t
}

func (t *allocTally) add(a *api.AllocationListStub) {
	switch a.ClientStatus {
	case "running":
		t.running++
	case "pending":
		if a.DesiredStatus == "run" || a.DesiredStatus == "" {
			t.pending++
		} else {
			t.killed++
		}
	case "lost", "unknown":
		t.lost++
	case "failed":
		if a.DesiredStatus == "stop" && stoppedByUser(a) {
			t.killed++
		} else if a.FollowupEvalID != "" {
			t.awaiting++
		} else {
			t.failed++
		}
	case "complete":
		switch {
		case strings.Contains(a.ClientDescription, "max_run_duration"):
			// Nomad stopped it at its timeout and calls that complete;
			// the run did not finish.
			t.failed++
		case (a.DesiredStatus == "stop" || a.DesiredStatus == "evict") && stoppedByUser(a):
			t.killed++
		default:
			t.complete++
		}
	}
}

// addSummary counts from the job summary, for a job whose allocations are
// not at hand.
func (t *allocTally) addSummary(summary *api.JobSummary) {
	for _, g := range summary.Summary {
		t.running += g.Running
		t.pending += g.Starting
		t.lost += g.Lost + g.Unknown
		t.failed += g.Failed
		t.complete += g.Complete
	}
}

// seen is the number of allocations counted, live or ended.
func (t allocTally) seen() int {
	return t.running + t.pending + t.lost + t.failed + t.complete
}

// state is the run's state by precedence: anything live wins over
// anything queued, which wins over any ending; ok is false when nothing
// was counted.
func (t allocTally) state(queued int) (record.State, bool) {
	switch {
	case t.running > 0:
		return record.StateRunning, true
	case t.pending > 0:
		return record.StateStarting, true
	case queued > 0 || t.awaiting > 0:
		return record.StateQueued, true
	case t.lost > 0:
		return record.StateLost, true
	case t.failed > 0:
		return record.StateFailed, true
	case t.killed > 0:
		return record.StateStopped, true
	case t.complete > 0:
		return record.StateComplete, true
	}
	return "", false
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
