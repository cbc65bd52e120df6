package decide

import (
	"slices"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

func TestSplitDemand(t *testing.T) {
	pending := []Request{req("small", 1), req("huge", 16), req("big", 8), {ID: "cpu", Resources: Resources{GPUs: 1, CPU: 100000}}, req("mid", 4)}
	before := slices.Clone(pending)
	dem := splitDemand(pending, NodeCapacity(dPool()))
	var fits, unsched []string
	for _, r := range dem.fits {
		fits = append(fits, r.ID)
	}
	for _, r := range dem.unschedulable {
		unsched = append(unsched, r.ID)
	}
	if !slices.Equal(fits, []string{"big", "mid", "small"}) {
		t.Errorf("fits %v, want biggest first: big mid small", fits)
	}
	if !slices.Equal(unsched, []string{"huge", "cpu"}) {
		t.Errorf("unschedulable %v, want huge and cpu", unsched)
	}
	if len(dem.why) != 1 || dem.why[0].rule != ruleUnschedulable || dem.why[0].requests != 2 {
		t.Errorf("why %+v, want 2 unschedulable requests", dem.why)
	}
	if !slices.Equal(pending, before) {
		t.Errorf("the caller's queue was reordered")
	}
}

func TestPack(t *testing.T) {
	ineligible := func(n Node) Node { n.Eligible = false; return n }
	starting := dNode("a100-7", 0, 0)
	starting.Status = NodeInitializing
	tests := []struct {
		name    string
		pool    *spec.Pool
		nodes   []Node
		hist    History
		booting []Machine
		queue   []Request
		// Want: nodes re-enabled, machines created, requests waiting.
		back             []string
		created, waiting int
	}{
		{"room on an eligible node first", nil, []Node{dNode("a100-1", 4, 1), ineligible(dNode("a100-2", 4, 1))}, marks([]string{"a100-2"}, nil, nil), nil,
			[]Request{req("r", 4)}, nil, 0, 0},
		{"then a cordoned node, re-enabled", nil, []Node{dNode("a100-1", 6, 1), ineligible(dNode("a100-2", 4, 1))}, marks([]string{"a100-2"}, nil, nil), nil,
			[]Request{req("r", 4)}, []string{"a100-2"}, 0, 0},
		{"then a draining node, re-enabled", nil, []Node{dNode("a100-1", 8, 1), ineligible(dNode("a100-2", 0, 0))}, marks(nil, []string{"a100-2"}, nil), nil,
			[]Request{req("r", 8)}, []string{"a100-2"}, 0, 0},
		{"an operator's cordon takes nothing", nil, []Node{ineligible(dNode("a100-1", 0, 0))}, History{}, nil,
			[]Request{req("r", 8)}, nil, 1, 0},
		{"a starting node and a booting machine absorb the queue", nil, []Node{starting}, History{}, []Machine{{Name: "a100-8", RequestedAt: t0}},
			[]Request{req("a", 8), req("b", 8)}, nil, 0, 0},
		{"new machines for the rest, first fit decreasing", nil, nil, History{}, nil,
			[]Request{req("a", 1), req("b", 4), req("c", 2), req("d", 8), req("e", 1), req("f", 4)}, nil, 3, 0},
		{"max_nodes makes the rest wait", &spec.Pool{Name: "a100", GPUsPerNode: 8, MaxNodes: 2}, []Node{dNode("a100-1", 8, 1)}, History{}, nil,
			[]Request{req("a", 8), req("b", 8), req("c", 8)}, nil, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := tt.pool
			if pl == nil {
				pl = dPool()
			}
			h := tt.hist.borrowed()
			views, _ := classify(tt.nodes, h)
			dem := splitDemand(tt.queue, NodeCapacity(pl))
			pk := pack(pl, views, tt.booting, dem.fits, liveCount(views, tt.booting))
			back := reenablePacked(views, pk.bins, &h)
			if !slices.Equal(back.nodes, tt.back) || pk.created != tt.created || pk.waiting != tt.waiting {
				t.Errorf("re-enabled %v, created %d, waiting %d; want %v, %d, %d", back.nodes, pk.created, pk.waiting, tt.back, tt.created, tt.waiting)
			}
			for _, n := range back.nodes {
				if i := findView(views, n); views[i].role != roleEligible || h.ScalingIn(n) || h.Cordoned[n] != (time.Time{}) {
					t.Errorf("%s re-enabled but role %d, marks %v %v", n, views[i].role, h.Cordoned, h.Draining)
				}
			}
			if tt.waiting > 0 && (len(pk.why) != 1 || pk.why[0].rule != ruleMaxNodes || pk.why[0].limit != pl.MaxNodes) {
				t.Errorf("why %+v, want max_nodes %d", pk.why, pl.MaxNodes)
			}
			if len(tt.back) > 0 && (len(back.why) != 1 || back.why[0].rule != ruleReenable) {
				t.Errorf("why %+v, want the re-enabled nodes", back.why)
			}
		})
	}
}
