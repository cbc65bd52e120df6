package decide

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// marks builds a History with the given nodes cordoned (c), draining (d)
// and removing (r), borrowed as a decision does.
func marks(c, d, r []string) History {
	h := History{Cordoned: map[string]time.Time{}, Draining: map[string]time.Time{}, Removing: map[string]time.Time{}}
	for _, n := range c {
		h.Cordoned[n] = t0.Add(-time.Hour)
	}
	for _, n := range d {
		h.Draining[n] = t0.Add(-time.Minute)
	}
	for _, n := range r {
		h.Removing[n] = t0.Add(-time.Second)
	}
	return h.borrowed()
}

func TestClassify(t *testing.T) {
	ineligible := func(n Node) Node { n.Eligible = false; return n }
	status := func(n Node, s NodeStatus) Node { n.Status = s; return n }
	tests := []struct {
		name string
		node Node
		hist History
		want nodeRole
	}{
		{"ready and eligible takes work", dNode("n", 0, 0), History{}, roleEligible},
		{"down is failed", status(dNode("n", 0, 0), NodeDown), History{}, roleFailed},
		{"down while Terraform removes it is no failure", status(ineligible(dNode("n", 0, 0)), NodeDown), marks(nil, nil, []string{"n"}), roleRemoving},
		{"a removal mark on a node an operator re-enabled does not hold", dNode("n", 0, 0), marks(nil, nil, []string{"n"}), roleEligible},
		{"a removal mark on a node that took work does not hold", ineligible(dNode("n", 1, 1)), marks(nil, nil, []string{"n"}), roleForeign},
		{"another node pool's node is left alone", func() Node { n := dNode("n", 1, 1); n.Misplaced = true; return n }(), History{}, roleForeign},
		{"another node pool's node, drained by an operator, goes", func() Node { n := ineligible(dNode("n", 0, 0)); n.Misplaced = true; return n }(), History{}, roleFailed},
		{"disconnected is left alone", status(dNode("n", 8, 1), NodeDisconnected), History{}, roleForeign},
		{"initializing is starting", status(dNode("n", 0, 0), NodeInitializing), History{}, roleStarting},
		{"caravan's cordon", ineligible(dNode("n", 1, 1)), marks([]string{"n"}, nil, nil), roleCordoned},
		{"caravan's drain", ineligible(dNode("n", 0, 0)), marks(nil, []string{"n"}, nil), roleDraining},
		{"a drain mark on an eligible node does not make it draining", dNode("n", 0, 0), marks(nil, []string{"n"}, nil), roleEligible},
		{"an operator's cordon is foreign", ineligible(dNode("n", 1, 1)), History{}, roleForeign},
		{"an operator's drain is foreign", func() Node { n := dNode("n", 1, 1); n.Draining = true; return n }(), History{}, roleForeign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views, marked := classify([]Node{tt.node}, tt.hist)
			if views[0].role != tt.want || views[0].bin != -1 {
				t.Errorf("role %d bin %d, want role %d bin -1", views[0].role, views[0].bin, tt.want)
			}
			if want := len(tt.hist.Cordoned) + len(tt.hist.Draining) + len(tt.hist.Removing); marked != want {
				t.Errorf("marked %d, want %d", marked, want)
			}
		})
	}
}

func TestForgetStale(t *testing.T) {
	ineligible := func(n Node) Node { n.Eligible = false; return n }
	down := func(n Node) Node { n.Status = NodeDown; return n }
	tests := []struct {
		name  string
		nodes []Node
		hist  History
		// The marks that remain.
		cordoned, draining, removing []string
	}{
		{"marks on nodes in their role stay", []Node{ineligible(dNode("a", 1, 1)), ineligible(dNode("b", 0, 0)), ineligible(dNode("c", 0, 0))},
			marks([]string{"a"}, []string{"b"}, []string{"c"}), []string{"a"}, []string{"b"}, []string{"c"}},
		{"marks on nodes that left the view go", []Node{dNode("a", 0, 0)},
			marks([]string{"x"}, []string{"y"}, []string{"z"}), nil, nil, nil},
		{"a cordon an operator lifted goes", []Node{dNode("a", 1, 1)}, marks([]string{"a"}, nil, nil), nil, nil, nil},
		{"a drain mark on an eligible node goes", []Node{dNode("a", 0, 0)}, marks(nil, []string{"a"}, nil), nil, nil, nil},
		{"a drain mark on a node that went down stays", []Node{down(ineligible(dNode("a", 0, 0)))}, marks(nil, []string{"a"}, nil), nil, []string{"a"}, nil},
		{"a removing mark stays while the node is in view", []Node{ineligible(dNode("a", 0, 0))}, marks(nil, nil, []string{"a"}), nil, nil, []string{"a"}},
		{"a removing mark on a re-enabled node goes", []Node{dNode("a", 0, 0)}, marks(nil, nil, []string{"a"}), nil, nil, nil},
		{"a removing mark on a node with work goes", []Node{ineligible(dNode("a", 1, 1))}, marks(nil, nil, []string{"a"}), nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.hist.Cordoned)
			h := tt.hist.borrowed()
			views, marked := classify(tt.nodes, h)
			forgetStale(views, marked, &h)
			for _, c := range []struct {
				what string
				got  map[string]time.Time
				want []string
			}{{"cordoned", h.Cordoned, tt.cordoned}, {"draining", h.Draining, tt.draining}, {"removing", h.Removing, tt.removing}} {
				if got := slices.Sorted(maps.Keys(c.got)); !slices.Equal(got, c.want) {
					t.Errorf("%s marks %v, want %v", c.what, got, c.want)
				}
			}
			if !maps.Equal(tt.hist.Cordoned, before) {
				t.Errorf("the caller's marks changed: %v, was %v", tt.hist.Cordoned, before)
			}
		})
	}
}

func TestFindFailed(t *testing.T) {
	pl := dPool() // boot_timeout 15m
	booting := []Machine{
		{Name: "a100-1", RequestedAt: t0.Add(-16 * time.Minute)},
		{Name: "a100-2", RequestedAt: t0.Add(-5 * time.Minute)},
		{Name: "a100-3", RequestedAt: t0.Add(-2 * time.Minute)},
	}
	downNode := dNode("a100-4", 8, 1)
	downNode.Status = NodeDown
	views, _ := classify([]Node{dNode("a100-5", 0, 0), downNode}, History{})

	f := findFailed(pl, booting, views, t0)
	if !slices.Equal(f.failed, []string{"a100-1", "a100-4"}) {
		t.Errorf("failed %v, want the late machine then the down node", f.failed)
	}
	if len(f.booting) != 2 || f.booting[0].Name != "a100-2" || f.booting[1].Name != "a100-3" {
		t.Errorf("booting %v, want a100-2 and a100-3", f.booting)
	}
	if want := t0.Add(10 * time.Minute); !f.wake.Equal(want) {
		t.Errorf("wake %v, want %v (a100-2's boot_timeout)", f.wake, want)
	}
	if len(f.why) != 2 || f.why[0].rule != ruleBootTimeout || !slices.Equal(f.why[0].nodes, []string{"a100-1"}) || f.why[0].after != 15*time.Minute ||
		f.why[1].rule != ruleDown || !slices.Equal(f.why[1].nodes, []string{"a100-4"}) {
		t.Errorf("why %+v, want boot_timeout for a100-1 and down for a100-4", f.why)
	}

	pl.BootTimeout = 0
	if f := findFailed(pl, booting, nil, t0.Add(24*time.Hour)); len(f.failed) != 0 || len(f.booting) != 3 || !f.wake.IsZero() {
		t.Errorf("without boot_timeout: failed %v booting %v wake %v, want all booting and no timer", f.failed, f.booting, f.wake)
	}
}
