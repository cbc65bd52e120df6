package decide

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func dPool() *spec.Pool {
	return &spec.Pool{
		Name: "a100", NodePool: "a100", GPUsPerNode: 8, CPUPerNode: 64000, MemoryPerNode: 512 << 30,
		MaxNodes: 10, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute,
	}
}

// dNode is a ready, eligible node of dPool created an hour before t0 with
// gpus GPUs in use by allocs allocations.
func dNode(name string, gpus, allocs int) Node {
	n := Node{
		Name: name, ID: "id-" + name, Status: NodeReady, Eligible: true,
		Total:     Resources{GPUs: 8, CPU: 64000, Memory: 512 << 30},
		Used:      Resources{GPUs: gpus, CPU: 1000 * gpus},
		Allocs:    allocs,
		CreatedAt: t0.Add(-time.Hour),
	}
	if allocs > 0 {
		n.LastBusy = t0
		n.OldestAlloc = t0.Add(-30 * time.Minute)
	}
	return n
}

func idle(n Node, d time.Duration) Node {
	n.LastBusy = t0.Add(-d)
	n.CreatedAt = n.LastBusy.Add(-time.Hour)
	return n
}

func req(id string, gpus int) Request {
	return Request{ID: id, JobID: id, Resources: Resources{GPUs: gpus, CPU: 1000}, Since: t0.Add(-time.Second)}
}

func kinds(d Decision) map[ActionKind][]string {
	m := map[ActionKind][]string{}
	for _, a := range d.Actions {
		m[a.Kind] = append(m[a.Kind], a.Nodes...)
	}
	return m
}

func TestDecideRules(t *testing.T) {
	cordonedHist := History{Cordoned: map[string]time.Time{"a100-2": t0.Add(-time.Hour)}}
	drainingHist := History{Draining: map[string]time.Time{"a100-2": t0.Add(-time.Minute)}}
	ineligible := func(n Node) Node { n.Eligible = false; return n }
	draining := func(n Node) Node { n.Eligible = false; n.Draining = true; return n }
	tests := []struct {
		name    string
		policy  Policy
		ps      PoolState
		want    map[ActionKind][]string
		target  []string
		unsched int
		reason  string
	}{
		{
			name: "scale from zero packs two 4-GPU runs on one machine",
			ps:   PoolState{Pending: []Request{req("r1", 4), req("r2", 4)}},
			want: map[ActionKind][]string{Create: {"a100-1"}}, target: []string{"a100-1"},
			reason: "need 1 new machine",
		},
		{
			name: "first-fit decreasing: 8,4,4,2,1,1 fits three nodes, not four",
			ps:   PoolState{Pending: []Request{req("a", 1), req("b", 4), req("c", 2), req("d", 8), req("e", 1), req("f", 4)}},
			want: map[ActionKind][]string{Create: {"a100-1", "a100-2", "a100-3"}},
		},
		{
			name: "capped by max_nodes",
			ps: PoolState{
				Pool:    &spec.Pool{Name: "a100", GPUsPerNode: 8, MaxNodes: 2, IdleTimeout: 10 * time.Minute},
				Pending: []Request{req("a", 8), req("b", 8), req("c", 8)},
			},
			want: map[ActionKind][]string{Create: {"a100-1", "a100-2"}}, reason: "max_nodes 2 reached",
		},
		{
			name: "a run bigger than a node is reported, not scaled for",
			ps:   PoolState{Pending: []Request{req("huge", 16)}},
			want: map[ActionKind][]string{}, unsched: 1, reason: "larger than one node",
		},
		{
			name: "a run asking more CPU than a node has is unschedulable too",
			ps:   PoolState{Pending: []Request{{ID: "cpu", Resources: Resources{GPUs: 1, CPU: 100000}}}},
			want: map[ActionKind][]string{}, unsched: 1,
		},
		{
			name: "free room on an eligible node is used before booting",
			ps:   PoolState{Nodes: []Node{dNode("a100-1", 4, 1)}, Pending: []Request{req("r", 4)}},
			want: map[ActionKind][]string{}, target: []string{"a100-1"},
		},
		{
			name: "a booting machine absorbs new demand",
			ps: PoolState{
				Booting: []Machine{{Name: "a100-1", RequestedAt: t0.Add(-time.Minute)}},
				Pending: []Request{req("r1", 4), req("r2", 4)},
			},
			want: map[ActionKind][]string{}, target: []string{"a100-1"},
		},
		{
			name: "a cordoned node is re-enabled before booting",
			ps: PoolState{
				Nodes:   []Node{dNode("a100-1", 8, 2), ineligible(dNode("a100-2", 2, 1))},
				Pending: []Request{req("r", 4)},
				History: cordonedHist,
			},
			want: map[ActionKind][]string{MarkEligible: {"a100-2"}}, reason: "cordoned node(s) back",
		},
		{
			name: "a node being scaled in is re-enabled before booting",
			ps: PoolState{
				Nodes:   []Node{dNode("a100-1", 8, 2), draining(idle(dNode("a100-2", 0, 0), 20*time.Minute))},
				Pending: []Request{req("r", 8)},
				History: drainingHist,
			},
			want: map[ActionKind][]string{MarkEligible: {"a100-2"}},
		},
		{
			name: "an operator's cordon is left alone and the pool boots instead",
			ps: PoolState{
				Nodes:   []Node{ineligible(dNode("a100-1", 2, 1))},
				Pending: []Request{req("r", 4)},
			},
			want: map[ActionKind][]string{Create: {"a100-2"}},
		},
		{
			name:   "idle past idle_timeout: cordon and drain",
			policy: IdleTimeoutPolicy(),
			ps:     PoolState{Nodes: []Node{idle(dNode("a100-1", 0, 0), 11*time.Minute)}},
			want:   map[ActionKind][]string{MarkIneligible: {"a100-1"}, Drain: {"a100-1"}},
			target: []string{"a100-1"}, reason: "scaling in",
		},
		{
			name:   "idle under idle_timeout stays with the classic policy",
			policy: IdleTimeoutPolicy(),
			ps:     PoolState{Nodes: []Node{idle(dNode("a100-1", 0, 0), 9*time.Minute)}},
			want:   map[ActionKind][]string{},
		},
		{
			name: "caravan scales in an unneeded empty node after the grace",
			ps:   PoolState{Nodes: []Node{idle(dNode("a100-1", 0, 0), 2*time.Minute)}},
			want: map[ActionKind][]string{MarkIneligible: {"a100-1"}, Drain: {"a100-1"}},
		},
		{
			name:   "the warm buffer keeps an empty node while recent demand was high",
			policy: warmPolicy(),
			ps: PoolState{
				Nodes:   []Node{idle(dNode("a100-1", 0, 0), 2*time.Minute)},
				History: History{Demand: 40, DemandAt: t0},
			},
			want: map[ActionKind][]string{},
		},
		{
			name:   "but not past idle_timeout",
			policy: warmPolicy(),
			ps: PoolState{
				Nodes:   []Node{idle(dNode("a100-1", 0, 0), 11*time.Minute)},
				History: History{Demand: 40, DemandAt: t0},
			},
			want: map[ActionKind][]string{MarkIneligible: {"a100-1"}, Drain: {"a100-1"}},
		},
		{
			name: "not within the grace",
			ps:   PoolState{Nodes: []Node{idle(dNode("a100-1", 0, 0), 30*time.Second)}},
			want: map[ActionKind][]string{},
		},
		{
			name: "a drained empty node is removed",
			ps: PoolState{
				Nodes:   []Node{dNode("a100-1", 8, 1), draining(idle(dNode("a100-2", 0, 0), 20*time.Minute))},
				History: drainingHist,
			},
			want: map[ActionKind][]string{Remove: {"a100-2"}}, target: []string{"a100-1"},
		},
		{
			name: "a node that got work while draining keeps it",
			ps: PoolState{
				Nodes:   []Node{draining(dNode("a100-2", 1, 1))},
				History: drainingHist,
			},
			want: map[ActionKind][]string{MarkEligible: {"a100-2"}}, target: []string{"a100-2"},
			reason: "keeps it",
		},
		{
			name: "min_nodes keeps idle nodes",
			ps: PoolState{
				Pool:  &spec.Pool{Name: "a100", GPUsPerNode: 8, MinNodes: 1, IdleTimeout: 10 * time.Minute},
				Nodes: []Node{idle(dNode("a100-1", 0, 0), time.Hour), idle(dNode("a100-2", 0, 0), 2*time.Hour)},
			},
			want: map[ActionKind][]string{MarkIneligible: {"a100-2"}, Drain: {"a100-2"}},
		},
		{
			name: "min_nodes is topped up",
			ps:   PoolState{Pool: &spec.Pool{Name: "a100", GPUsPerNode: 8, MinNodes: 2}},
			want: map[ActionKind][]string{Create: {"a100-1", "a100-2"}}, reason: "min_nodes 2",
		},
		{
			name: "a machine not registered by boot_timeout is replaced",
			ps: PoolState{
				Booting: []Machine{{Name: "a100-1", RequestedAt: t0.Add(-16 * time.Minute)}},
				Pending: []Request{req("r", 8)},
			},
			want:   map[ActionKind][]string{Replace: {"a100-1"}, Create: {"a100-2"}},
			target: []string{"a100-2"}, reason: "boot_timeout",
		},
		{
			name: "a down node is replaced and its lost work gets a new machine",
			ps: PoolState{
				Nodes:   []Node{func() Node { n := dNode("a100-1", 8, 1); n.Status = NodeDown; return n }()},
				Pending: []Request{req("lost", 8)},
			},
			want:   map[ActionKind][]string{Replace: {"a100-1"}, Create: {"a100-2"}},
			target: []string{"a100-2"}, reason: "down",
		},
		{
			name: "new names never reuse one in sight or remembered",
			ps: PoolState{
				Nodes:   []Node{dNode("a100-3", 8, 1), dNode("a100-1", 8, 1)},
				Pending: []Request{req("r", 8)},
				History: History{NextIndex: 2},
			},
			want: map[ActionKind][]string{Create: {"a100-4"}},
		},
		{
			name: "consolidation cordons the lightly used nodes beyond the room kept",
			ps: PoolState{Nodes: []Node{
				dNode("a100-1", 6, 3), dNode("a100-2", 1, 1), dNode("a100-3", 2, 1), dNode("a100-4", 5, 2), dNode("a100-5", 7, 1),
			}},
			// Ranked fullest first: 5 (1 free), 1 (2), 4 (3), 3 (6), 2 (7):
			// 1+2+3 = 6 < 8 keeps a100-3 eligible too; a100-2 is cordoned.
			want: map[ActionKind][]string{MarkIneligible: {"a100-2"}}, reason: "consolidating",
		},
		{
			name:   "no consolidation with the classic policy",
			policy: IdleTimeoutPolicy(),
			ps: PoolState{Nodes: []Node{
				dNode("a100-1", 6, 3), dNode("a100-2", 1, 1), dNode("a100-3", 2, 1), dNode("a100-4", 5, 2), dNode("a100-5", 7, 1),
			}},
			want: map[ActionKind][]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if reflect.DeepEqual(p, Policy{}) {
				p = DefaultPolicy()
			}
			if tc.ps.Pool == nil {
				tc.ps.Pool = dPool()
			}
			d := p.DecidePool("a100", tc.ps, t0)
			got := kinds(d)
			for k, v := range tc.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s = %v, want %v (reason %q)", k, got[k], v, d.Reason)
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s %v (reason %q)", k, v, d.Reason)
				}
			}
			if tc.target != nil && !slices.Equal(d.TargetNodes, tc.target) {
				t.Errorf("TargetNodes = %v, want %v", d.TargetNodes, tc.target)
			}
			if len(d.Unschedulable) != tc.unsched {
				t.Errorf("Unschedulable = %v, want %d", d.Unschedulable, tc.unsched)
			}
			if tc.reason != "" && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to mention %q", d.Reason, tc.reason)
			}
		})
	}
}

// A scale-in takes two decisions: cordon and drain, then, seeing the node
// still empty, remove it.
func TestDecideScaleInSequence(t *testing.T) {
	ps := PoolState{Pool: dPool(), Nodes: []Node{dNode("a100-1", 4, 1), idle(dNode("a100-2", 0, 0), 20*time.Minute)}}
	p := IdleTimeoutPolicy()
	d1 := p.DecidePool("a100", ps, t0)
	if k := kinds(d1); !slices.Equal(k[Drain], []string{"a100-2"}) || len(k[Remove]) > 0 {
		t.Fatalf("first decision %v, want a drain of a100-2 and no removal", d1.Actions)
	}
	if d1.Actions[len(d1.Actions)-1].Kind != Drain || d1.Actions[0].Kind != MarkIneligible {
		t.Errorf("order %v: want mark ineligible before drain", d1.Actions)
	}
	ps.History = d1.History
	ps.Nodes[1].Eligible, ps.Nodes[1].Draining = false, true
	d2 := p.DecidePool("a100", ps, t0.Add(time.Second))
	if k := kinds(d2); !slices.Equal(k[Remove], []string{"a100-2"}) {
		t.Fatalf("second decision %v, want removal of a100-2", d2.Actions)
	}
	if !slices.Equal(d2.TargetNodes, []string{"a100-1"}) {
		t.Errorf("TargetNodes = %v", d2.TargetNodes)
	}
	if len(d2.History.Draining) != 0 {
		t.Errorf("history still draining %v", d2.History.Draining)
	}
}

func TestDecideIsPure(t *testing.T) {
	hist := History{Cordoned: map[string]time.Time{"a100-2": t0}, Draining: map[string]time.Time{"gone": t0}}
	ps := PoolState{
		Pool:    dPool(),
		Nodes:   []Node{dNode("a100-1", 8, 1), dNode("a100-2", 1, 1), idle(dNode("a100-3", 0, 0), time.Hour)},
		Pending: []Request{req("b", 1), req("a", 8)},
		History: hist,
	}
	before := []Request{ps.Pending[0], ps.Pending[1]}
	s := State{Now: t0, Pools: map[string]PoolState{"a100": ps, "b": {Pool: &spec.Pool{Name: "b", GPUsPerNode: 4}}}}
	d1 := Decide(s)
	d2 := Decide(s)
	if !reflect.DeepEqual(d1, d2) {
		t.Fatalf("Decide differs on the same state:\n%+v\n%+v", d1, d2)
	}
	if len(d1) != 2 || d1[0].Pool != "a100" || d1[1].Pool != "b" {
		t.Fatalf("decisions not one per pool in name order: %+v", d1)
	}
	if len(hist.Cordoned) != 1 || len(hist.Draining) != 1 {
		t.Errorf("Decide changed the caller's history: %v %v", hist.Cordoned, hist.Draining)
	}
	if !slices.Equal(ps.Pending, before) {
		t.Errorf("Decide reordered the caller's pending slice")
	}
	if _, ok := d1[0].History.Draining["gone"]; ok {
		t.Errorf("mark of a vanished node kept")
	}
}

// warmPolicy is the default policy with a warm buffer of 5% of recent peak
// demand, which the default leaves off.
func warmPolicy() Policy {
	p := DefaultPolicy()
	p.WarmFraction = 0.05
	return p
}

func TestDecideWakeAt(t *testing.T) {
	p := IdleTimeoutPolicy()
	ps := PoolState{Pool: dPool(), Nodes: []Node{idle(dNode("a100-1", 0, 0), 4*time.Minute)}}
	d := p.DecidePool("a100", ps, t0)
	if want := t0.Add(6 * time.Minute); !d.WakeAt.Equal(want) {
		t.Errorf("WakeAt = %v, want %v (idle_timeout falls due)", d.WakeAt, want)
	}
	// Kept for the warm buffer (5% of 40 busy GPUs = 2): look again when
	// demand has halved to 20 and the buffer drops to 1 GPU.
	long := dPool()
	long.IdleTimeout = time.Hour
	ps = PoolState{Pool: long, Nodes: []Node{idle(dNode("a100-1", 0, 0), 2*time.Minute)}, History: History{Demand: 40, DemandAt: t0}}
	d = warmPolicy().DecidePool("a100", ps, t0)
	if want := t0.Add(30*time.Minute + time.Second); len(d.Actions) > 0 || !d.WakeAt.Equal(want) {
		t.Errorf("actions %v WakeAt = %v, want none and %v (warm buffer shrinks)", d.Actions, d.WakeAt, want)
	}
	ps = PoolState{Pool: dPool(), Booting: []Machine{{Name: "a100-1", RequestedAt: t0.Add(-5 * time.Minute)}}}
	d = p.DecidePool("a100", ps, t0)
	if want := t0.Add(10 * time.Minute); !d.WakeAt.Equal(want) {
		t.Errorf("WakeAt = %v, want %v (boot_timeout falls due)", d.WakeAt, want)
	}
}
