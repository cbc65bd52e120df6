package record

import (
	"time"

	"github.com/hashicorp/nomad/api"
)

// MovesSuffix follows a record's path for the run's moves: every time
// caravan moved the run to another node or pool, appended by whoever moved
// it (caravan migrate, the autoscaler, a preemption notice).
const MovesSuffix = "/moves"

// MovesPath is the Variable path of the run's moves.
func (r Ref) MovesPath() string { return r.Path() + MovesSuffix }

// Who moved a run (Move.By is one of these, followed by details).
const (
	MovedByMigrate    = "caravan migrate"
	MovedByAutoscaler = "autoscaler"
	MovedByPreemption = "preemption"
)

// SpotOK is MetaSpot's one value.
const SpotOK = "ok"

// MaxMoves bounds the moves a record keeps; older ones are dropped first.
const MaxMoves = 200

// Move is one move of a run. A queued run is re-registered in another
// pool; a running one is asked to checkpoint (its signal), given its grace,
// and started again elsewhere, where it resumes from its checkpoint.
type Move struct {
	At time.Time `json:"at"`
	// By says who moved it (MovedBy*, with the token's name for migrate);
	// Reason why, as they said it.
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	// Running is true when the run was running (and checkpointed), false
	// when it was queued.
	Running bool `json:"running"`
	// FromNode and FromAlloc are where it ran; FromPool and ToPool its
	// caravan pools (equal unless it changed pool); ToNode the node it was
	// sent to when one was named.
	FromNode  string `json:"from_node,omitempty"`
	FromAlloc string `json:"from_alloc,omitempty"`
	FromPool  string `json:"from_pool,omitempty"`
	ToPool    string `json:"to_pool,omitempty"`
	ToNode    string `json:"to_node,omitempty"`
	// GPUs the run holds while it moves.
	GPUs int `json:"gpus"`
	// ExpectedSavingGPUHours is what the autoscaler expected the move to
	// save (machine time freed less the move's cost); 0 for other movers.
	ExpectedSavingGPUHours float64 `json:"expected_saving_gpu_hours,omitempty"`
}

// AllocTimes is what MoveCost needs of an allocation.
type AllocTimes struct {
	ID       string
	Previous string // the allocation it replaced
	Created  time.Time
	Started  time.Time // its task started; zero if it never did
	Finished time.Time // its task finished; zero while it runs
}

// MoveCost is the GPU time move m cost, in GPU-seconds, from the run's
// allocations: the GPUs held by the old allocation from the move until it
// stopped (the checkpoint it wrote in its grace), and those held by the
// replacement from its placement until its task started (Nomad reserves
// them while it waits for the old one to stop, and while it sets up).
// Work done since the run's last checkpoint is lost too, but only the run
// knows how much. known is false while the move is not over.
func MoveCost(m Move, allocs []AllocTimes) (gpuSeconds float64, known bool) {
	if !m.Running {
		return 0, true
	}
	var old *AllocTimes
	for i := range allocs {
		if allocs[i].ID == m.FromAlloc {
			old = &allocs[i]
		}
	}
	if old == nil || old.Finished.IsZero() {
		return 0, false
	}
	held := max(0, old.Finished.Sub(m.At).Seconds())
	for _, a := range allocs {
		if a.Previous != old.ID {
			continue
		}
		if a.Started.IsZero() {
			return 0, false
		}
		from := a.Created
		if from.Before(m.At) {
			from = m.At
		}
		held += max(0, a.Started.Sub(from).Seconds())
	}
	return held * float64(m.GPUs), true
}

// AllocGPUs counts the GPU instances Nomad gave an allocation's tasks: what
// a move or a report prices the allocation's time by.
func AllocGPUs(a *api.Allocation) int {
	if a == nil || a.AllocatedResources == nil {
		return 0
	}
	n := 0
	for _, t := range a.AllocatedResources.Tasks {
		if t == nil {
			continue
		}
		for _, d := range t.Devices {
			if d != nil && d.Type == "gpu" {
				n += len(d.DeviceIDs)
			}
		}
	}
	return n
}
