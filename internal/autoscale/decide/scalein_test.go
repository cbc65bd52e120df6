package decide

import (
	"slices"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// ruleFor is the rule that acted on each node named in why: the answer
// to "why was this node drained?".
func ruleFor(why []reason) map[string]rule {
	m := map[string]rule{}
	for _, r := range why {
		for _, n := range r.nodes {
			m[n] = r.rule
		}
	}
	return m
}

func TestSettleDrains(t *testing.T) {
	drainingNode := func(name string, allocs int) Node {
		n := idle(dNode(name, allocs, allocs), 20*time.Minute)
		n.Eligible = false
		return n
	}
	tests := []struct {
		name     string
		minNodes int
		nodes    []Node
		removes  []string
		reenable []string
		rule     map[string]rule
		removing []string
	}{
		{"a drained, empty node is removed", 0, []Node{drainingNode("a100-1", 0)},
			[]string{"a100-1"}, nil, map[string]rule{}, []string{"a100-1"}},
		{"a node that got work keeps it", 0, []Node{drainingNode("a100-1", 1)},
			nil, []string{"a100-1"}, map[string]rule{"a100-1": ruleGotWork}, nil},
		{"min_nodes keeps the last one", 1, []Node{drainingNode("a100-1", 0), drainingNode("a100-2", 0)},
			[]string{"a100-1"}, []string{"a100-2"}, map[string]rule{"a100-2": ruleKeptForMinNodes}, []string{"a100-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := dPool()
			pl.MinNodes = tt.minNodes
			var names []string
			for _, n := range tt.nodes {
				names = append(names, n.Name)
			}
			h := marks(nil, names, nil)
			views, _ := classify(tt.nodes, h)
			s := settleDrains(pl, views, liveCount(views, nil), 0, &h, t0)
			if !slices.Equal(s.removes, tt.removes) || !slices.Equal(s.reenable, tt.reenable) {
				t.Errorf("removes %v reenable %v, want %v and %v", s.removes, s.reenable, tt.removes, tt.reenable)
			}
			if got := ruleFor(s.why); len(got) != len(tt.rule) || !mapsEqual(got, tt.rule) {
				t.Errorf("rules %v, want %v", got, tt.rule)
			}
			if len(h.Draining) != 0 {
				t.Errorf("drain marks %v left; every drain is settled", h.Draining)
			}
			for _, n := range tt.removing {
				if !h.Removing[n].Equal(t0) {
					t.Errorf("%s removed but not marked removing: %v", n, h.Removing)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]rule) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestTopUp(t *testing.T) {
	tests := []struct {
		name                                  string
		minNodes, maxNodes                    int
		live, removed, created, want, wantWhy int
	}{
		{"no min_nodes", 0, 0, 0, 0, 0, 0, 0},
		{"empty pool to min_nodes", 2, 0, 0, 0, 0, 2, 1},
		{"queue's machines count", 2, 0, 0, 0, 1, 1, 1},
		{"removals count", 2, 0, 2, 1, 0, 1, 1},
		{"max_nodes bounds it", 3, 2, 1, 0, 0, 1, 1},
		{"enough already", 1, 0, 3, 1, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := &spec.Pool{Name: "p", GPUsPerNode: 8, MinNodes: tt.minNodes, MaxNodes: tt.maxNodes}
			short, why := topUp(pl, tt.live, tt.removed, tt.created)
			if short != tt.want || len(why) != tt.wantWhy {
				t.Errorf("topUp = %d, %+v; want %d with %d reason(s)", short, why, tt.want, tt.wantWhy)
			}
			if len(why) > 0 && (why[0].rule != ruleMinNodes || why[0].machines != short || why[0].limit != tt.minNodes) {
				t.Errorf("why %+v, want min_nodes %d for %d machine(s)", why[0], tt.minNodes, short)
			}
		})
	}
}

func TestScaleIn(t *testing.T) {
	cordoned := func(n Node) Node { n.Eligible = false; return n }
	tests := []struct {
		name     string
		policy   Policy
		minNodes int
		// idleTimeout replaces dPool's 10m when set.
		idleTimeout time.Duration
		nodes       []Node
		hist        History
		drains      []string
		rules       map[string]rule
		wake        time.Time
	}{
		{"idle_timeout, longest idle first", IdleTimeoutPolicy(), 0, 0,
			[]Node{idle(dNode("a100-1", 0, 0), 11*time.Minute), idle(dNode("a100-2", 0, 0), 30*time.Minute), idle(dNode("a100-3", 0, 0), 5*time.Minute), dNode("a100-4", 4, 1)},
			History{}, []string{"a100-2", "a100-1"}, map[string]rule{"a100-1": ruleIdleTimeout, "a100-2": ruleIdleTimeout}, t0.Add(5 * time.Minute)},
		{"min_idle scales in early", DefaultPolicy(), 0, 0,
			[]Node{idle(dNode("a100-1", 0, 0), 2*time.Minute), idle(dNode("a100-2", 0, 0), 30*time.Second)},
			History{}, []string{"a100-1"}, map[string]rule{"a100-1": ruleMinIdle}, t0.Add(30 * time.Second)},
		{"min_nodes stops scale-in", IdleTimeoutPolicy(), 1, 0,
			[]Node{idle(dNode("a100-1", 0, 0), 20*time.Minute), idle(dNode("a100-2", 0, 0), 30*time.Minute)},
			History{}, []string{"a100-2"}, map[string]rule{"a100-2": ruleIdleTimeout}, time.Time{}},
		{"a cordoned empty node goes too", IdleTimeoutPolicy(), 0, 0,
			[]Node{cordoned(idle(dNode("a100-1", 0, 0), 20*time.Minute))},
			marks([]string{"a100-1"}, nil, nil), []string{"a100-1"}, map[string]rule{"a100-1": ruleIdleTimeout}, time.Time{}},
		{"the warm buffer keeps a node, idle_timeout falls due first", warmPolicy(), 0, 0,
			[]Node{idle(dNode("a100-1", 0, 0), 2*time.Minute)},
			History{Demand: 40, DemandAt: t0}, nil, map[string]rule{}, t0.Add(8 * time.Minute)},
		// 5% of 40 busy GPUs is 2: the buffer drops to 1 when demand has
		// halved to 20, one half-life (30m) on.
		{"the warm buffer keeps a node until it shrinks", warmPolicy(), 0, time.Hour,
			[]Node{idle(dNode("a100-1", 0, 0), 2*time.Minute)},
			History{Demand: 40, DemandAt: t0}, nil, map[string]rule{}, t0.Add(30*time.Minute + time.Second)},
		{"equally idle nodes go by name", IdleTimeoutPolicy(), 1, 0,
			[]Node{idle(dNode("a100-2", 0, 0), 20*time.Minute), idle(dNode("a100-1", 0, 0), 20*time.Minute)},
			History{}, []string{"a100-1"}, map[string]rule{"a100-1": ruleIdleTimeout}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := dPool()
			pl.MinNodes = tt.minNodes
			if tt.idleTimeout > 0 {
				pl.IdleTimeout = tt.idleTimeout
			}
			h := tt.hist.borrowed()
			views, _ := classify(tt.nodes, h)
			pk := pack(pl, views, nil, nil, len(views))
			got := tt.policy.scaleIn(pl, views, pk, len(views), tt.policy.warmBuffer(h), &h, t0)
			if !slices.Equal(got.drains, tt.drains) {
				t.Errorf("drains %v, want %v", got.drains, tt.drains)
			}
			if r := ruleFor(got.why); !mapsEqual(r, tt.rules) {
				t.Errorf("rules %v, want %v", r, tt.rules)
			}
			if !got.wake.Equal(tt.wake) {
				t.Errorf("wake %v, want %v", got.wake, tt.wake)
			}
			for _, n := range got.drains {
				if _, ok := h.Draining[n]; !ok || views[findView(views, n)].role != roleDraining {
					t.Errorf("%s drained but not marked draining", n)
				}
				if _, ok := h.Cordoned[n]; ok {
					t.Errorf("%s drained and still marked cordoned", n)
				}
			}
		})
	}
}
