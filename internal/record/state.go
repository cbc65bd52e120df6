package record

// State is a run's state as caravan shows it.
type State string

// Run states. Unknown is for a run whose record outlived its job: Nomad
// garbage-collected or purged it, so how it ended is no longer known there.
const (
	StateQueued   State = "queued"   // waiting for placement (e.g. no free GPUs)
	StateStarting State = "starting" // placed, tasks not running yet
	StateRunning  State = "running"
	// StateMoving is a run caravan moves to another node: its old
	// allocation checkpoints, or its replacement waits to start.
	StateMoving   State = "moving"
	StateComplete State = "complete" // every task exited 0
	StateFailed   State = "failed"
	StateLost     State = "lost" // its node went down or disconnected
	StateStopped  State = "stopped"
	StateUnknown  State = "unknown"
	// StateWaiting is a run that waits for the runs it depends on: it has
	// no job yet, only a gate (Gate) that the controller lifts.
	StateWaiting State = "waiting"
	// StateBlocked is a waiting run one of whose upstream runs failed for
	// good: it starts only once a rerun of that run completes.
	StateBlocked State = "blocked"
)

// States lists every state, in the order a listing groups them.
var States = []State{StateWaiting, StateBlocked, StateQueued, StateStarting, StateMoving, StateRunning, StateComplete, StateFailed, StateLost, StateStopped, StateUnknown}

// Terminal reports whether a run in s will not change state by itself.
func (s State) Terminal() bool {
	switch s {
	case StateComplete, StateFailed, StateLost, StateStopped, StateUnknown:
		return true
	}
	return false
}
