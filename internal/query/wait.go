package query

import (
	"fmt"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
)

// Wait says where the runs a gated run waits for stand: how many of them
// completed, and which failed for good. Ready once every one completed.
type Wait struct {
	// Experiments are the upstream experiments, in the order first named.
	Experiments []string `json:"experiments"`
	Done        int      `json:"done"`
	Total       int      `json:"total"`
	// Blocked are the upstream runs that ended without completing and
	// have no rerun that completed or still runs; the gated run starts
	// only once a rerun of each completes.
	Blocked []Blocker `json:"blocked,omitempty"`
}

// Blocker is an upstream run that failed for good.
type Blocker struct {
	ID    string       `json:"id"`
	State record.State `json:"state"`
}

// Ready reports whether every upstream run completed.
func (w Wait) Ready() bool { return w.Total > 0 && w.Done == w.Total }

// State is StateBlocked when an upstream run failed for good, else
// StateWaiting.
func (w Wait) State() record.State {
	if len(w.Blocked) > 0 {
		return record.StateBlocked
	}
	return record.StateWaiting
}

// Text is what listings show: "waiting for preprocess (2 of 3 runs done)",
// or "blocked by preprocess-1234abcd (failed)".
func (w Wait) Text() string {
	if len(w.Blocked) > 0 {
		parts := make([]string, 0, len(w.Blocked))
		for i, b := range w.Blocked {
			if i == 2 {
				parts = append(parts, fmt.Sprintf("%d more", len(w.Blocked)-i))
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", b.ID, b.State))
		}
		return "blocked by " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("waiting for %s (%d of %d runs done)", strings.Join(w.Experiments, ", "), w.Done, w.Total)
}

// WaitOf is the Wait of a run that waits for the runs waitFor, given the
// runs known by ID and the reruns of each run (RerunsOf). It is pure.
//
// An upstream run counts as done when it, or any rerun of it (a rerun of a
// rerun too), completed. It blocks when it ended otherwise (failed, lost,
// stopped, or only its record is left) and no rerun completed or is still
// on its way. A run that is not there at all (an apply that has not
// submitted it yet) is waited for.
func WaitOf(waitFor []string, byID map[string]*Run, reruns map[string][]string) Wait {
	w := Wait{Total: len(waitFor)}
	for _, id := range waitFor {
		if e := record.ExperimentOf(id); !slices.Contains(w.Experiments, e) {
			w.Experiments = append(w.Experiments, e)
		}
		done, active, state := upstreamState(id, byID, reruns, 0)
		switch {
		case done:
			w.Done++
		case active:
		case state != "":
			w.Blocked = append(w.Blocked, Blocker{ID: id, State: state})
		}
	}
	return w
}

// maxRerunDepth bounds the walk along reruns of reruns.
const maxRerunDepth = 16

// upstreamState says whether run id (or a rerun of it) completed, whether
// one is still on its way, and else the state it ended in ("" when caravan
// knows no such run).
func upstreamState(id string, byID map[string]*Run, reruns map[string][]string, depth int) (done, active bool, state record.State) {
	r := byID[id]
	if r != nil {
		switch {
		case r.State == record.StateComplete:
			return true, false, r.State
		case !r.State.Terminal():
			active = true
		}
		state = r.State
	}
	if depth < maxRerunDepth {
		for _, rr := range reruns[id] {
			d, a, _ := upstreamState(rr, byID, reruns, depth+1)
			if d {
				return true, false, record.StateComplete
			}
			active = active || a
		}
	}
	if r == nil && !active {
		return false, true, "" // not submitted yet: wait for it
	}
	return false, active, state
}

// RerunsOf maps each run ID to the IDs of the runs that rerun it.
func RerunsOf(rows []Run) map[string][]string {
	m := map[string][]string{}
	for _, r := range rows {
		if r.RerunOf != "" {
			m[r.RerunOf] = append(m[r.RerunOf], r.ID)
		}
	}
	return m
}
