package record

import "time"

// StallSuffix follows a record's path for the controller's stall marker:
// written once when it finds a run that printed nothing, wrote no metric
// and used ~0 CPU and GPU for its experiment's stall_timeout. It is kept
// beside the record, like the outcome, so that report can say "stalled
// since 15:46 after step 3" while the run still holds its GPU (on_stall =
// "warn") and after Nomad collected it.
const StallSuffix = "/stall"

// StallPath is the Variable path of the run's stall marker.
func (r Ref) StallPath() string { return r.Path() + StallSuffix }

// What the controller does with a stalled run (an experiment's on_stall).
const (
	OnStallWarn = "warn" // mark it; the run keeps its GPU
	OnStallStop = "stop" // mark it and stop it, with StopReasonStalled
)

// StopReasonStalled is the stop reason the controller gives a run it
// stops under on_stall = "stop".
const StopReasonStalled = "stalled"

// Job meta of an experiment's stall settings (absent when it has none).
const (
	MetaStallTimeout = "caravan_stall_timeout" // Go duration string
	MetaOnStall      = "caravan_on_stall"      // OnStallWarn or OnStallStop
)

// Stall is how the controller found a run stalled.
type Stall struct {
	RunID   string `json:"run_id"`
	AllocID string `json:"alloc_id"`
	// Since is the run's last sign of life: its last output, metric, or
	// sample with CPU or GPU in use (its start when it never showed one).
	Since      time.Time `json:"since"`
	DetectedAt time.Time `json:"detected_at"`
	// TimeoutS is the experiment's stall_timeout, in seconds.
	TimeoutS float64 `json:"stall_timeout_s"`
	// Step is the last step the run wrote to $CARAVAN_METRICS; nil when it
	// wrote none.
	Step *float64 `json:"step,omitempty"`
	// Action is the experiment's on_stall; Stopped says the controller
	// stopped the run.
	Action  string `json:"action"`
	Stopped bool   `json:"stopped,omitempty"`
	// ResumedAt is when the controller saw a run it had marked (on_stall
	// = "warn") show signs of life again; zero while it hangs.
	ResumedAt time.Time `json:"resumed_at,omitzero"`
	// Evidence says what showed the run idle, one fact a line.
	Evidence []string `json:"evidence,omitempty"`
}
