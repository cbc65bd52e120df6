package decide

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// unbounded stands for a dimension the pool does not declare (cpu_per_node
// or memory_per_node unset): it never limits packing.
const unbounded = math.MaxInt32

// NodeCapacity is what a new machine of the pool offers.
func NodeCapacity(pl *spec.Pool) Resources {
	c := Resources{GPUs: pl.GPUsPerNode, CPU: pl.CPUPerNode, Memory: pl.MemoryPerNode}
	if c.CPU <= 0 {
		c.CPU = unbounded
	}
	if c.Memory <= 0 {
		c.Memory = math.MaxInt64 / 4
	}
	return c
}

// nodeRole is how Decide sees a registered node.
type nodeRole int

const (
	roleEligible nodeRole = iota // takes new work
	roleCordoned                 // caravan marked it ineligible to consolidate
	roleDraining                 // caravan is scaling it in
	roleForeign                  // ineligible or draining by someone else: left alone
	roleStarting                 // registered but not ready yet
	roleFailed                   // down: replaced
	roleRemoving                 // drained, empty and out of the target: left to Terraform
)

// nodeView is a registered node as a decision sees it. The phases change
// its role as they decide (a cordoned node packed onto becomes eligible,
// an idle one draining), so that later phases see the pool as it will be.
type nodeView struct {
	// Node points into the caller's State, which Decide never changes.
	*Node
	role nodeRole
	// bin is the node's index in the packing, -1 if it takes no part.
	bin int
}

// idleSince is when the node last held work, or registered if later.
func idleSince(n *Node) time.Time {
	if n.LastBusy.After(n.CreatedAt) {
		return n.LastBusy
	}
	return n.CreatedAt
}

func findView(vs []nodeView, name string) int {
	for i := range vs {
		if vs[i].Name == name {
			return i
		}
	}
	return -1
}

func orderBy(vs []nodeView, role nodeRole, less func(a, b nodeView) bool) []int {
	var idx []int
	for i := range vs {
		if vs[i].role == role {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		x, y := &vs[a], &vs[b]
		if less(*x, *y) {
			return -1
		}
		if less(*y, *x) {
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	return idx
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// changes are the node names a decision touches, by what happens to them.
type changes struct {
	reenable, cordons, drains, failed, removes, creates []string
	moves                                               moves
}

// assemble turns changes into ordered actions (Nomad first, then
// Terraform) and the exact set of names Terraform must hold.
func (p Policy) assemble(d *Decision, c changes, views []nodeView, booting []Machine) {
	sort.Strings(c.reenable)
	add := func(k ActionKind, nodes []string, why string) {
		if len(nodes) == 0 {
			return
		}
		a := Action{Kind: k, Nodes: append([]string(nil), nodes...), Reason: why}
		if k == Drain {
			a.Deadline = p.DrainDeadline
		}
		d.Actions = append(d.Actions, a)
	}
	add(MarkEligible, c.reenable, "back in service: queued work, new work on a draining node, min_nodes or the consolidation line needs it")
	add(MarkIneligible, c.cordons, "consolidation: let lightly used nodes empty out")
	for i := 0; i < len(c.moves.work); {
		node := c.moves.from[i]
		j := i
		for j < len(c.moves.work) && c.moves.from[j] == node {
			j++
		}
		d.Actions = append(d.Actions, Action{Kind: Move, Nodes: []string{node}, Work: slices.Clone(c.moves.work[i:j]),
			SavingGPUHours: c.moves.saving[node], Reason: "consolidation: move checkpointing work to empty the node"})
		i = j
	}
	add(MarkIneligible, c.drains, "idle: scale-in")
	add(Drain, c.drains, "idle: scale-in")
	add(Replace, c.failed, "failed: down or not registered within boot_timeout")
	add(Remove, c.removes, "drained and empty")
	add(Create, c.creates, "queued work does not fit, or below min_nodes")

	// Both lists are short; a map here showed in the simulator's profile.
	gone := func(n string) bool { return slices.Contains(c.failed, n) || slices.Contains(c.removes, n) }
	d.TargetNodes = make([]string, 0, len(views)+len(booting)+len(c.creates))
	for _, v := range views {
		if v.role != roleRemoving && !gone(v.Name) {
			d.TargetNodes = append(d.TargetNodes, v.Name)
		}
	}
	for _, m := range booting {
		d.TargetNodes = append(d.TargetNodes, m.Name)
	}
	d.TargetNodes = append(d.TargetNodes, c.creates...)
	sort.Strings(d.TargetNodes)
	d.TargetNodes = dedupe(d.TargetNodes)
}
