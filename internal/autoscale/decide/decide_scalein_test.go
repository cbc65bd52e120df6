package decide

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDecideRemovedNodeStaysOut follows a scaled-in node after the decision
// that removed it: while Terraform destroys it (or after the apply failed,
// or a restart) it is still registered, ineligible and no longer marked as
// draining. It must stay out of every target (else it is a zombie machine
// nobody removes) and must never be made eligible again, even when queued
// work could use it.
func TestDecideRemovedNodeStaysOut(t *testing.T) {
	ps := PoolState{Pool: dPool(), Nodes: []Node{dNode("a100-1", 8, 1), idle(dNode("a100-2", 0, 0), 20*time.Minute)}}
	p := IdleTimeoutPolicy()
	d1 := p.DecidePool("a100", ps, t0)
	ps.History = d1.History
	ps.Nodes[1].Eligible, ps.Nodes[1].Draining = false, true
	d2 := p.DecidePool("a100", ps, t0.Add(time.Second))
	if k := kinds(d2); !slices.Equal(k[Remove], []string{"a100-2"}) {
		t.Fatalf("second decision %v, want removal of a100-2", d2.Actions)
	}

	// The drain completed; the machine is still registered while the
	// apply runs, and a run that fits it is queued.
	ps.History = d2.History
	ps.Nodes[1].Draining = false
	ps.Pending = []Request{req("r1", 4)}
	for i, now := range []time.Time{t0.Add(2 * time.Second), t0.Add(time.Hour)} {
		d := p.DecidePool("a100", ps, now)
		if slices.Contains(d.TargetNodes, "a100-2") {
			t.Errorf("decision %d: target %v holds the removed node a100-2", i+3, d.TargetNodes)
		}
		if k := kinds(d); slices.Contains(k[MarkEligible], "a100-2") {
			t.Errorf("decision %d: %v makes the removed node eligible again", i+3, d.Actions)
		}
		if k := kinds(d); len(k[Create]) != 1 {
			t.Errorf("decision %d: %v, want one new machine for the queued run", i+3, d.Actions)
		}
		ps.History = d.History
	}

	// Terraform destroyed it: it goes down first, which is no failure.
	ps.Nodes[1].Status = NodeDown
	d := p.DecidePool("a100", ps, t0.Add(time.Hour+time.Second))
	if k := kinds(d); len(k[Replace]) > 0 || slices.Contains(d.TargetNodes, "a100-2") {
		t.Errorf("removed node gone down: %v, target %v; want no replacement and no a100-2", d.Actions, d.TargetNodes)
	}

	// Once it leaves the view, the mark is forgotten.
	ps.History = d.History
	ps.Nodes = ps.Nodes[:1]
	d = p.DecidePool("a100", ps, t0.Add(2*time.Hour))
	if len(d.History.Removing) != 0 {
		t.Errorf("history still removing %v after the node left", d.History.Removing)
	}
}

// TestDecideDisconnectedNodeKept: a disconnected node's allocations may
// still run (Nomad reports the status only for work with a disconnect
// window), so it is neither replaced nor scaled in while disconnected; once
// Nomad marks it down it is replaced.
func TestDecideDisconnectedNodeKept(t *testing.T) {
	n := dNode("a100-1", 8, 0) // its allocations are "unknown", not running
	n.Status = NodeDisconnected
	ps := PoolState{Pool: dPool(), Nodes: []Node{n}, Pending: []Request{req("r", 8)}}
	d := IdleTimeoutPolicy().DecidePool("a100", ps, t0.Add(time.Hour))
	k := kinds(d)
	if len(k[Replace])+len(k[Remove])+len(k[Drain]) > 0 || !slices.Contains(d.TargetNodes, "a100-1") {
		t.Errorf("disconnected: %v, target %v; want a100-1 kept", d.Actions, d.TargetNodes)
	}
	if len(k[Create]) != 1 {
		t.Errorf("disconnected: %v; want a new machine for the queued run (the node takes no work)", d.Actions)
	}
	ps.Nodes[0].Status = NodeDown
	d = IdleTimeoutPolicy().DecidePool("a100", ps, t0.Add(time.Hour))
	if k := kinds(d); !slices.Equal(k[Replace], []string{"a100-1"}) {
		t.Errorf("down: %v; want a100-1 replaced", d.Actions)
	}
}

// min_idle is the pool's say over early scale-in: an empty node idle for 5
// minutes goes early under the default policy, stays when min_idle is
// longer than its idle time, and with min_idle = idle_timeout only the
// classic rule applies.
func TestDecideMinIdle(t *testing.T) {
	tests := []struct {
		name    string
		minIdle time.Duration
		idleFor time.Duration
		drain   bool
		why     string // in the decision's reason
	}{
		{"policy default (1m) removes a 5m-idle node early", 0, 5 * time.Minute, true, "idle for min_idle 1m0s"},
		{"min_idle 2m removes it too", 2 * time.Minute, 5 * time.Minute, true, "idle for min_idle 2m0s"},
		{"min_idle 6m keeps it", 6 * time.Minute, 5 * time.Minute, false, "no change"},
		{"min_idle = idle_timeout keeps it until idle_timeout", 10 * time.Minute, 9 * time.Minute, false, "no change"},
		{"min_idle = idle_timeout removes it at idle_timeout", 10 * time.Minute, 10 * time.Minute, true, "idle for idle_timeout 10m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := dPool()
			pl.MinIdle = tt.minIdle
			ps := PoolState{Pool: pl, Nodes: []Node{idle(dNode("a100-1", 0, 0), tt.idleFor)}}
			d := DefaultPolicy().DecidePool("a100", ps, t0)
			if got := len(kinds(d)[Drain]) == 1; got != tt.drain {
				t.Errorf("drain = %v, want %v (actions %v)", got, tt.drain, d.Actions)
			}
			if !strings.Contains(d.Reason, tt.why) {
				t.Errorf("reason %q does not say %q", d.Reason, tt.why)
			}
		})
	}
	// The reactive comparison policy never scales in early, whatever the pool says.
	pl := dPool()
	pl.MinIdle = time.Minute
	ps := PoolState{Pool: pl, Nodes: []Node{idle(dNode("a100-1", 0, 0), 5*time.Minute)}}
	if d := IdleTimeoutPolicy().DecidePool("a100", ps, t0); len(kinds(d)[Drain]) != 0 {
		t.Errorf("IdleTimeoutPolicy drained early: %v", d.Actions)
	}
}

// TestDecideDrainMarkNeedsIneligibleNode: caravan's drain mark alone does
// not make an empty node removable; if the node is eligible in Nomad (an
// operator re-enabled it, or the mark outlived a lost drain) work may land
// on it any moment, so it is kept and the stale mark forgotten.
func TestDecideDrainMarkNeedsIneligibleNode(t *testing.T) {
	ps := PoolState{
		Pool:    dPool(),
		Nodes:   []Node{dNode("a100-1", 8, 1), idle(dNode("a100-2", 0, 0), 2*time.Minute)},
		History: History{Draining: map[string]time.Time{"a100-2": t0.Add(-time.Minute)}},
	}
	d := IdleTimeoutPolicy().DecidePool("a100", ps, t0)
	if k := kinds(d); len(k[Remove]) > 0 || !slices.Contains(d.TargetNodes, "a100-2") {
		t.Errorf("%v, target %v: an eligible node was removed on a drain mark", d.Actions, d.TargetNodes)
	}
	if len(d.History.Draining) != 0 {
		t.Errorf("stale drain mark kept: %v", d.History.Draining)
	}
}
