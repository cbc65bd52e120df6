package decide

import (
	"slices"
	"testing"
	"time"
)

// nodeWith is dNode holding the allocations work, each of one GPU unless
// it says otherwise.
func nodeWith(name string, work ...Alloc) Node {
	gpus := 0
	for i := range work {
		if work[i].Resources.GPUs == 0 {
			work[i].Resources.GPUs = 1
		}
		gpus += work[i].Resources.GPUs
	}
	n := dNode(name, gpus, len(work))
	n.Used.CPU = 0
	n.Work = work
	return n
}

func ckpt(id string, age time.Duration, gpus int) Alloc {
	return Alloc{ID: id, JobID: id, Resources: Resources{GPUs: gpus}, Grace: 2 * time.Minute, StartedAt: t0.Add(-age)}
}

func TestMoveWork(t *testing.T) {
	plain := ckpt("plain", 3*time.Hour, 1)
	plain.Grace = 0
	// anchor is a node that stays: its run cannot move.
	anchor := ckpt("big", 5*time.Hour, 6)
	anchor.Grace = 0
	stopping := ckpt("stopping", 3*time.Hour, 1)
	stopping.Stopping = true
	tests := []struct {
		name   string
		nodes  []Node
		hist   History
		from   []string // nodes emptied
		allocs []string // allocations moved
	}{
		{"a light node of old checkpointing work is emptied onto a busy one",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1), ckpt("b", 2*time.Hour, 1))},
			History{}, []string{"a100-2"}, []string{"a", "b"}},
		{"a run without a checkpoint block is never moved",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1), plain)},
			History{}, nil, nil},
		{"a run asked to move within its grace is not asked again",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1))},
			History{Moved: map[string]time.Time{"a": t0.Add(-time.Minute)}}, nil, nil},
		{"after its grace it may be asked again",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1))},
			History{Moved: map[string]time.Time{"a": t0.Add(-3 * time.Minute)}}, []string{"a100-2"}, []string{"a"}},
		{"a run already stopping is left to stop",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", stopping)},
			History{}, nil, nil},
		{"young work stays: it is likely to end before a move pays",
			[]Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Minute, 1))},
			History{}, nil, nil},
		{"work that fits no other busy node stays",
			[]Node{nodeWith("a100-1", anchor, plain), nodeWith("a100-2", ckpt("a", time.Hour, 2))},
			History{}, nil, nil},
		{"an empty node takes no moved work: that would empty nothing",
			[]Node{dNode("a100-1", 0, 0), nodeWith("a100-2", ckpt("a", time.Hour, 1))},
			History{}, nil, nil},
		{"a node with allocations caravan knows nothing of stays",
			[]Node{nodeWith("a100-1", anchor), func() Node { n := nodeWith("a100-2", ckpt("a", time.Hour, 1)); n.Allocs++; return n }()},
			History{}, nil, nil},
		{"a node that receives work is not emptied in the same decision",
			[]Node{nodeWith("a100-1", ckpt("x", time.Hour, 1)), nodeWith("a100-2", ckpt("y", time.Hour, 1))},
			History{}, []string{"a100-1"}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := dPool()
			h := tt.hist.borrowed()
			views, _ := classify(tt.nodes, h)
			pk := pack(pl, views, nil, nil, len(views))
			got := DefaultPolicy().moveWork(views, pk.bins, &h, t0)
			var ids []string
			for _, a := range got.work {
				ids = append(ids, a.ID)
				if h.Moved[a.ID] != t0 {
					t.Errorf("%s moved but not remembered: %v", a.ID, h.Moved)
				}
			}
			if !slices.Equal(got.empties, tt.from) || !slices.Equal(ids, tt.allocs) {
				t.Errorf("emptied %v moving %v, want %v moving %v", got.empties, ids, tt.from, tt.allocs)
			}
			for _, n := range got.empties {
				if _, ok := h.Cordoned[n]; !ok {
					t.Errorf("%s emptied but not cordoned", n)
				}
			}
		})
	}
}

// TestDecideMoves: the decision cordons the node before it moves the
// work, names the work, and says why and what it expects to save.
func TestDecideMoves(t *testing.T) {
	anchor := ckpt("big", 5*time.Hour, 6)
	anchor.Grace = 0
	ps := PoolState{Pool: dPool(), Nodes: []Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1))}}
	d := DefaultPolicy().DecidePool("a100", ps, t0)
	var kinds []ActionKind
	for _, a := range d.Actions {
		kinds = append(kinds, a.Kind)
	}
	if !slices.Equal(kinds, []ActionKind{MarkIneligible, Move}) {
		t.Fatalf("actions %v, want a cordon then a move (%+v)", kinds, d.Actions)
	}
	mv := d.Actions[1]
	if !slices.Equal(mv.Nodes, []string{"a100-2"}) || len(mv.Work) != 1 || mv.Work[0].ID != "a" {
		t.Errorf("move %+v, want allocation a off a100-2", mv)
	}
	// 8 GPUs for the hour the oldest run has run, less 1 GPU for its 2m grace.
	if want := 8.0 - 2.0/60; mv.SavingGPUHours < want-1e-9 || mv.SavingGPUHours > want+1e-9 {
		t.Errorf("expected saving %.4f GPU-hours, want %.4f", mv.SavingGPUHours, want)
	}
	if !slices.Contains(d.TargetNodes, "a100-2") {
		t.Errorf("the emptied node left the target at once: %v", d.TargetNodes)
	}
	if want := "moving 1 checkpointing run(s) off node a100-2"; !contains(d.Reason, want) {
		t.Errorf("reason %q does not say %q", d.Reason, want)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// TestEmptyingNodeStaysCordoned: while the moved work checkpoints, the
// node it leaves is busy and cordoned by caravan; consolidation must not
// take it for one of its own cordons and put it back in service, where
// new work would land on it.
func TestEmptyingNodeStaysCordoned(t *testing.T) {
	anchor := ckpt("big", 5*time.Hour, 6)
	anchor.Grace = 0
	ps := PoolState{Pool: dPool(), Nodes: []Node{nodeWith("a100-1", anchor), nodeWith("a100-2", ckpt("a", time.Hour, 1))}}
	d := DefaultPolicy().DecidePool("a100", ps, t0)
	leaving := ckpt("a", time.Hour, 1)
	leaving.Stopping = true
	n := nodeWith("a100-2", leaving)
	n.Eligible = false
	ps.Nodes[1], ps.History = n, d.History
	d = DefaultPolicy().DecidePool("a100", ps, t0.Add(5*time.Second))
	for _, a := range d.Actions {
		if a.Kind == MarkEligible || a.Kind == Move {
			t.Errorf("while its work checkpoints, the emptied node gets %s %v (%s)", a.Kind, a.Nodes, d.Reason)
		}
	}
}
