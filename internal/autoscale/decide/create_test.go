package decide

import (
	"slices"
	"testing"
)

func TestCreate(t *testing.T) {
	ps := PoolState{
		Nodes:   []Node{dNode("a100-3", 8, 1), dNode("other-9", 8, 1)},
		Booting: []Machine{{Name: "a100-5", RequestedAt: t0}},
		History: marks(nil, nil, []string{"a100-6"}),
	}
	tests := []struct {
		name                    string
		remembered              int
		created, waiting, short int
		want                    []string
		next                    int
		queuedWhy               bool
	}{
		{"nothing to create", 0, 0, 0, 0, nil, 0, false},
		{"above every name in sight", 0, 2, 0, 0, []string{"a100-7", "a100-8"}, 9, true},
		{"above the remembered counter", 12, 1, 0, 0, []string{"a100-12"}, 13, true},
		{"min_nodes alone gives no queue reason", 0, 0, 0, 1, []string{"a100-7"}, 8, false},
		{"queue and min_nodes together", 0, 1, 3, 1, []string{"a100-7", "a100-8"}, 9, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ps.History
			h.NextIndex = tt.remembered
			got := create("a100", ps, packing{created: tt.created, waiting: tt.waiting}, 5, tt.short, &h, t0)
			if !slices.Equal(got.names, tt.want) {
				t.Errorf("names %v, want %v", got.names, tt.want)
			}
			if len(tt.want) == 0 {
				if h.NextIndex != tt.remembered || !h.LastScaleUp.IsZero() {
					t.Errorf("history changed without a machine: %+v", h)
				}
				return
			}
			if h.NextIndex != tt.next || !h.LastScaleUp.Equal(t0) {
				t.Errorf("NextIndex %d LastScaleUp %v, want %d and %v", h.NextIndex, h.LastScaleUp, tt.next, t0)
			}
			if q := len(got.why) == 1 && got.why[0].rule == ruleQueued && got.why[0].requests == 5-tt.waiting && got.why[0].machines == tt.created; q != tt.queuedWhy {
				t.Errorf("why %+v; want a queue reason: %v", got.why, tt.queuedWhy)
			}
		})
	}
}
