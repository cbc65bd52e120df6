package decide

import (
	"slices"
	"testing"
)

func TestConsolidate(t *testing.T) {
	cordoned := func(n Node) Node { n.Eligible = false; return n }
	tests := []struct {
		name     string
		nodes    []Node
		hist     History
		buffer   int
		cordons  []string
		reenable []string
	}{
		// Ranked fullest first: 5 (1 free), 1 (2), 4 (3), 3 (6), 2 (7):
		// 1+2+3 = 6 < 8 keeps a100-3 eligible too; a100-2 is cordoned.
		{"lightly used nodes below the line are cordoned",
			[]Node{dNode("a100-1", 6, 3), dNode("a100-2", 1, 1), dNode("a100-3", 2, 1), dNode("a100-4", 5, 2), dNode("a100-5", 7, 1)},
			History{}, 0, []string{"a100-2"}, nil},
		{"the warm buffer moves the line down",
			[]Node{dNode("a100-1", 6, 3), dNode("a100-2", 1, 1), dNode("a100-3", 2, 1), dNode("a100-4", 5, 2), dNode("a100-5", 7, 1)},
			History{}, 5, nil, nil},
		{"a node caravan cordoned comes back above the line",
			[]Node{dNode("a100-1", 7, 1), cordoned(dNode("a100-2", 1, 1)), dNode("a100-3", 1, 1)},
			marks([]string{"a100-2"}, nil, nil), 0, []string{"a100-3"}, []string{"a100-2"}},
		{"a node more than half used is never cordoned",
			[]Node{dNode("a100-1", 5, 1), dNode("a100-2", 5, 1), dNode("a100-3", 5, 1), dNode("a100-4", 5, 1), dNode("a100-5", 1, 1)},
			History{}, 0, []string{"a100-5"}, nil},
		{"empty nodes are left to scale-in", []Node{dNode("a100-1", 0, 0), dNode("a100-2", 0, 0)}, History{}, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := dPool()
			h := tt.hist.borrowed()
			views, _ := classify(tt.nodes, h)
			pk := pack(pl, views, nil, nil, len(views))
			got := DefaultPolicy().consolidate(views, pk.bins, &h, t0, tt.buffer)
			if !slices.Equal(got.cordons, tt.cordons) || !slices.Equal(got.reenable, tt.reenable) {
				t.Errorf("cordons %v reenable %v, want %v and %v", got.cordons, got.reenable, tt.cordons, tt.reenable)
			}
			for _, n := range got.cordons {
				if _, ok := h.Cordoned[n]; !ok {
					t.Errorf("%s cordoned but not marked", n)
				}
			}
			for _, n := range got.reenable {
				if _, ok := h.Cordoned[n]; ok {
					t.Errorf("%s re-enabled but still marked cordoned", n)
				}
			}
			if (len(tt.cordons) > 0) != (len(got.why) == 1 && got.why[0].rule == ruleConsolidate) {
				t.Errorf("why %+v for cordons %v", got.why, got.cordons)
			}
		})
	}
}
