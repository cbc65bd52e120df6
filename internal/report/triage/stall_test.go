package triage

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// TestTriageStall: the controller's stall marker is the reason of a run it
// stopped for stalling (not "stopped", not the timeout), says so of a run
// that still hangs, and yields to a cause of its own (a crash); a marker
// of an earlier attempt is ignored.
func TestTriageStall(t *testing.T) {
	killedAt := func(d time.Duration) *api.Allocation {
		return alloc("a1", 10, done, stop, d, 4,
			ev(api.TaskKilling, d, "Sent interrupt. Waiting 5s before force killing", nil), terminated(d, 0, false),
			ev(api.TaskKilled, d, "Task successfully killed", nil))
	}
	tests := []struct {
		name    string
		in      Input
		kind    string
		summary string
		finding bool
	}{
		{"stopped for stalling", Input{Record: testRecord(), Allocs: []*api.Allocation{killedAt(36 * time.Minute)}, Stall: stalled("a1", true)},
			KindStalled, "stalled since 20:06 UTC after step 3; stopped by the controller", false},
		{"still hanging", Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, "running", run, -1, 4)}, Stall: stalled("a1", false), Now: t0.Add(40 * time.Minute)},
			KindStalled, "stalled since 20:06 UTC after step 3", false},
		{"crashed after it stalled", Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 2, false))}, Stall: stalled("a1", false)},
			KindUserError, "", true},
		{"resumed", Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, "running", run, -1, 4)}, Now: t0.Add(time.Hour),
			Stall: func() *record.Stall { s := stalled("a1", false); s.ResumedAt = t0.Add(40 * time.Minute); return s }()},
			KindRunning, "", true},
		{"marker of an earlier attempt", Input{Record: testRecord(), Allocs: []*api.Allocation{killedAt(time.Hour)}, Stall: stalled("a0", true)},
			KindStopped, "", false},
		{"from the outcome", Input{Record: testRecord(), Outcome: &record.Outcome{State: record.StateStopped, Reason: KindStalled,
			Summary: "stalled since 20:06 UTC after step 3; stopped by the controller", Stall: stalled("a1", true), AllocID: "a1"}},
			KindStalled, "stalled since 20:06 UTC after step 3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Triage(tc.in)
			if r.Reason.Kind != tc.kind || !strings.Contains(r.Reason.Summary, tc.summary) {
				t.Fatalf("reason %s: %q, want %s: %q", r.Reason.Kind, r.Reason.Summary, tc.kind, tc.summary)
			}
			if got := finding(r, KindStalled) != nil; got != tc.finding {
				t.Errorf("stall as a secondary finding: %v, want %v", got, tc.finding)
			}
		})
	}
}

// TestHintsNameCaravan: the advice of a report names caravan's own
// commands, which work whatever the run's namespace, never the nomad CLI.
func TestHintsNameCaravan(t *testing.T) {
	for _, in := range []Input{
		{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 2, false))}},
		{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4)}},
	} {
		r := Triage(in)
		if strings.Contains(r.Reason.Advice, "nomad ") || !strings.Contains(r.Reason.Advice, "`caravan ") {
			t.Errorf("%s: advice %q", r.Reason.Kind, r.Reason.Advice)
		}
	}
}
