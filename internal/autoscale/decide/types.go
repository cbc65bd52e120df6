package decide

import (
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// State is everything Decide looks at: one snapshot of the cluster, taken
// at Now.
type State struct {
	// Now is the time of the snapshot; Decide uses no other clock.
	Now time.Time
	// Pools by caravan pool name.
	Pools map[string]PoolState
}

// PoolState is one pool's part of a State.
type PoolState struct {
	// Pool is the pool's configuration (sizes, limits, timeouts, price).
	Pool *spec.Pool
	// Nodes are the Nomad nodes registered in the pool's node pool that
	// belong to caravan's Terraform state (nodes of the node pool that
	// caravan did not create are left out by Observe).
	Nodes []Node
	// Pending is the queued demand: allocations waiting for placement and
	// blocked evaluations whose placement failed for lack of resources or
	// nodes, one Request per allocation that cannot be placed.
	Pending []Request
	// Booting are names in Terraform state that have no Nomad node yet.
	Booting []Machine
	// History is what the previous Decision for this pool returned in
	// Decision.History; the zero value is a fresh start.
	History History
}

// NodeStatus is a Nomad node's status as caravan sees it.
type NodeStatus string

// Node statuses, as Nomad names them.
const (
	NodeReady        NodeStatus = "ready"
	NodeDown         NodeStatus = "down"
	NodeInitializing NodeStatus = "initializing"
	// NodeDisconnected is Nomad's status for a node that lost its
	// servers but may come back with its allocations (those with a
	// disconnect window); Decide leaves it alone until it is down.
	NodeDisconnected NodeStatus = "disconnected"
)

// Resources is an amount of the three dimensions caravan bin-packs.
type Resources struct {
	GPUs   int
	CPU    int   // MHz
	Memory int64 // bytes
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{GPUs: r.GPUs + o.GPUs, CPU: r.CPU + o.CPU, Memory: r.Memory + o.Memory}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{GPUs: r.GPUs - o.GPUs, CPU: r.CPU - o.CPU, Memory: r.Memory - o.Memory}
}

// Fits reports whether o fits into r in every dimension.
func (r Resources) Fits(o Resources) bool {
	return o.GPUs <= r.GPUs && o.CPU <= r.CPU && o.Memory <= r.Memory
}

// Node is one registered Nomad client of a pool.
type Node struct {
	// Name is the Nomad node name, which is also the name in Terraform's
	// nodes set.
	Name string
	// ID is Nomad's node ID ("" in the simulator).
	ID     string
	Status NodeStatus
	// Eligible is Nomad's scheduling eligibility.
	Eligible bool
	// Draining is true while a Nomad drain is in progress.
	Draining bool
	// Total is what the node offers (GPUs of the pool's device, CPU,
	// memory); Used is what its non-system allocations reserve.
	Total Resources
	Used  Resources
	// Allocs counts the node's non-system allocations that are pending
	// or running.
	Allocs int
	// LastBusy is the last time the node held a non-system allocation;
	// zero if it never did.
	LastBusy time.Time
	// CreatedAt is when the node registered.
	CreatedAt time.Time
	// Misplaced is set for a machine of the pool that registered with
	// another node pool (its module ignores the pool's node_pool): it
	// serves that pool's work, not this one's. Decide keeps it and leaves
	// it alone, never counts it as room for the queue, and removes it
	// only once it is down, or drained by an operator and empty.
	Misplaced bool
	// OldestAlloc is when the oldest of the node's running non-system
	// allocations started; zero when it holds none. Run lengths are
	// heavy-tailed, so the older a node's work, the longer it is likely to
	// keep the node busy: consolidation keeps new work on such nodes and
	// lets nodes holding only young work run dry.
	OldestAlloc time.Time
	// Work lists the node's pending and running non-system allocations
	// when the observer knows them, for moves; a node whose Work does not
	// account for every one of its Allocs is never emptied by a move.
	Work []Alloc
}

// Free is what is left on the node.
func (n Node) Free() Resources { return n.Total.Sub(n.Used) }

// Request is one allocation's worth of queued demand.
type Request struct {
	// ID identifies the request (allocation or evaluation ID, or a
	// simulator job); used for stable ordering and reports.
	ID string
	// RunID is the caravan run the request belongs to, JobID its Nomad job.
	RunID string
	JobID string
	// Resources asked for by one allocation.
	Resources Resources
	// Since is when the request was first seen waiting.
	Since time.Time
}

// Machine is a name in Terraform state that has not registered in Nomad.
type Machine struct {
	Name string
	// RequestedAt is when caravan added the name to Terraform's set.
	RequestedAt time.Time
}

// History is what Decide remembers between calls: the times of its last
// actions, the counter that names machines, the nodes it marked (cordoned,
// draining, removing) and a smoothed view of recent demand. It is a value,
// returned in Decision.History, so Decide stays pure.
//
// Pool records keep it in Nomad Variables under "memory", its former
// name; the JSON keys are spelled out so that a renamed field cannot
// orphan the records already written.
type History struct {
	// LastScaleUp and LastScaleDown are the times of the last decisions
	// that created or removed machines.
	LastScaleUp   time.Time `json:"LastScaleUp"`
	LastScaleDown time.Time `json:"LastScaleDown"`
	// NextIndex is the counter that names new machines
	// ("<pool>-<NextIndex>"); Decide never reuses a name it can see.
	NextIndex int `json:"NextIndex"`
	// Cordoned are the nodes caravan itself marked ineligible to
	// consolidate work, with the time it did so. Only these are made
	// eligible again by caravan; an operator's own cordon is respected.
	Cordoned map[string]time.Time `json:"Cordoned"`
	// Draining are the nodes caravan is scaling in (marked ineligible
	// and drained), with the time the drain started.
	Draining map[string]time.Time `json:"Draining"`
	// Removing are the drained, empty nodes a decision took out of
	// Terraform's set, with when. They stay out of every later target
	// until they leave Nomad's view: while the apply runs, after it
	// failed, or after a restart, the node is still registered (and, its
	// drain mark gone, would otherwise look like an operator's cordon and
	// go back into the target: a zombie machine), and it must never be
	// made eligible again while Terraform destroys it.
	Removing map[string]time.Time `json:"Removing"`
	// Demand is the recent peak of busy GPUs (used + queued), decaying
	// with a half-life; it sizes the warm buffer of empty nodes.
	Demand float64 `json:"Demand"`
	// DemandAt is when Demand was last updated.
	DemandAt time.Time `json:"DemandAt"`
	// Moved are the allocations a decision asked to move, with when: none
	// is asked again within its grace. An entry goes when no node holds
	// the allocation any more.
	Moved map[string]time.Time `json:"Moved,omitempty"`

	// shared is set while Cordoned and Draining still alias the maps of
	// the State Decide was given.
	shared bool
}

// ActionKind is what an Action does.
type ActionKind string

// Action kinds. Create and Remove change the Terraform nodes set; the others
// are Nomad node operations.
const (
	// Create adds machine names to Terraform's set.
	Create ActionKind = "create"
	// Remove takes names out of Terraform's set (the machines are
	// destroyed). Only empty, drained, booting-too-long or down nodes
	// are ever removed, and a node marked for removal that took work
	// since goes back into the set.
	Remove ActionKind = "remove"
	// MarkIneligible stops new placements on nodes (consolidation or the
	// first step of a scale-in).
	MarkIneligible ActionKind = "mark_ineligible"
	// MarkEligible undoes MarkIneligible (and cancels a drain) because
	// queued work needs the node.
	MarkEligible ActionKind = "mark_eligible"
	// Drain starts a Nomad drain with Action.Deadline.
	Drain ActionKind = "drain"
	// Replace removes failed machines (never registered by boot_timeout,
	// down, or registered with another node pool and drained by an
	// operator); the Create that replaces them, if still needed, is a
	// separate action of the same Decision.
	Replace ActionKind = "replace"
	// Move asks the checkpointing allocations in Action.Work, all on
	// Action.Nodes[0], to checkpoint and start again on another node;
	// the node is cordoned first, by a MarkIneligible of the same
	// Decision, and scaled in once empty.
	Move ActionKind = "move"
)

// Action is one step of a Decision.
type Action struct {
	Kind  ActionKind
	Nodes []string
	// Deadline is the drain deadline (Drain only).
	Deadline time.Duration
	// Reason says why, in words an operator reads in logs.
	Reason string
	// Work are the allocations to move (Move only), and SavingGPUHours
	// the GPU-hours emptying the node is expected to save, net of the
	// moves' cost.
	Work           []Alloc `json:"Work,omitempty"`
	SavingGPUHours float64 `json:"SavingGPUHours,omitempty"`
}

// Decision is what Decide wants done to one pool.
type Decision struct {
	Pool string
	// Actions in the order they must be applied: Nomad-side eligibility
	// changes first, then Terraform changes.
	Actions []Action
	// TargetNodes is the exact, sorted set of node names the pool's
	// Terraform state must hold after this decision.
	TargetNodes []string
	// Unschedulable are queued requests that cannot fit even an empty
	// node of the pool; they are reported, not scaled for.
	Unschedulable []Request
	// Reason summarises the decision in one line.
	Reason string
	// History is to be passed back in the next State's PoolState.History.
	History History
	// WakeAt is the latest time Decide should be called again if nothing
	// happens before (an idle timeout or a boot timeout falling due);
	// zero when no timer is pending.
	WakeAt time.Time
}

// Changed reports whether the decision asks for anything to be done.
func (d Decision) Changed() bool { return len(d.Actions) > 0 }
