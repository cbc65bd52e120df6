package decide

import (
	"slices"
	"testing"
	"time"
)

// TestRemovingMarkYieldsToWork: the Removing mark of a node whose removal
// apply failed is re-checked like the Draining mark: a node an operator
// re-enabled, or that took work since, goes back into Terraform's target.
func TestRemovingMarkYieldsToWork(t *testing.T) {
	removing := History{Removing: map[string]time.Time{"a100-1": t0.Add(-time.Minute)}}
	drained := dNode("a100-1", 0, 0)
	drained.Eligible = false
	tests := []struct {
		name string
		node Node
		keep bool
	}{
		{"drained and empty: left to Terraform", drained, false},
		{"re-enabled by an operator", dNode("a100-1", 0, 0), true},
		{"took work", dNode("a100-1", 2, 1), true},
		{"ineligible but took work", func() Node { n := dNode("a100-1", 2, 1); n.Eligible = false; return n }(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DefaultPolicy().DecidePool("a100", PoolState{Pool: dPool(), Nodes: []Node{tt.node}, History: removing}, t0)
			if got := slices.Contains(d.TargetNodes, "a100-1"); got != tt.keep {
				t.Fatalf("a100-1 in target = %v, want %v (decision %+v)", got, tt.keep, d)
			}
			if _, marked := d.History.Removing["a100-1"]; marked == tt.keep {
				t.Errorf("Removing mark kept = %v for a node kept = %v", marked, tt.keep)
			}
		})
	}
}
