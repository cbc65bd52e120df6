package report

import (
	"strconv"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// applyStall makes the controller's stall marker the reason of a run that
// is still running or ended without a cause of its own (stopped, at its
// timeout, unknown): a hang, not the timeout, is what ended it. A run that
// crashed or was killed for memory after it stalled keeps that reason, and
// the stall is a secondary finding. A marker of an earlier attempt is
// ignored. A run known only from its outcome gets the marker the outcome
// kept.
func applyStall(r *Report, st *record.Stall, o *record.Outcome) {
	if st == nil && o != nil {
		st = o.Stall
	}
	if st == nil || (r.Alloc != nil && st.AllocID != "" && r.Alloc.ID != st.AllocID) {
		return
	}
	r.Stall = st
	f := stallFinding(st)
	if !st.ResumedAt.IsZero() {
		// It came back to life: worth knowing, not why it ended.
		r.Findings = append(r.Findings, f)
		return
	}
	switch r.Reason.Kind {
	case KindStalled, KindRunning, KindStopped, KindTimeout, KindUnknown:
		r.Reason = f
	default:
		f.Advice = ""
		r.Findings = append(r.Findings, f)
	}
}

// stallFinding is "stalled since 15:46 UTC after step 3", with what showed
// it idle.
func stallFinding(st *record.Stall) Finding {
	s := "stalled since " + st.Since.UTC().Format("15:04") + " UTC"
	if st.Step != nil {
		s += " after step " + strconv.FormatFloat(*st.Step, 'f', -1, 64)
	}
	evidence := append([]string(nil), st.Evidence...)
	timeout := human(time.Duration(st.TimeoutS * float64(time.Second)))
	advice := "It printed nothing, wrote no metric and used ~0 CPU and GPU for its stall_timeout (" + timeout + "): a deadlock, a dead data loader or a peer that never answered. "
	switch {
	case !st.ResumedAt.IsZero():
		s = "stalled from " + st.Since.UTC().Format("15:04") + " to " + st.ResumedAt.UTC().Format("15:04") + " UTC, then resumed"
		if st.Step != nil {
			s += " (after step " + strconv.FormatFloat(*st.Step, 'f', -1, 64) + ")"
		}
		advice = ""
	case st.Stopped:
		s += "; stopped by the controller"
		advice += "The controller stopped it (on_stall = \"stop\"); `caravan logs " + st.RunID + " -stderr` shows where it stopped printing."
	case st.Action == record.OnStallStop:
		advice += "The controller is stopping it (on_stall = \"stop\")."
	default:
		s += "; it still holds its GPUs"
		advice += "It keeps its GPUs (on_stall = \"warn\"): `caravan stop " + st.RunID + " -reason stalled` frees them, and on_stall = \"stop\" does it next time."
	}
	return Finding{Kind: KindStalled, Summary: s, Evidence: evidence, Advice: advice}
}
