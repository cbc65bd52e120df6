package record

import (
	"strings"
	"time"
)

// OutcomeSuffix follows a record's path for the run's outcome: how it
// ended, written once by the controller when the run ends, beside the
// record (which stays as it was submitted). That the outcome exists shows
// in a listing of paths, so finding the runs that ended costs no read.
const OutcomeSuffix = "/outcome"

// OutcomePath is the Variable path of the run's outcome.
func (r Ref) OutcomePath() string { return r.Path() + OutcomeSuffix }

// ParseOutcomePath reads the project and run ID of an outcome's path;
// ok=false for every other path.
func ParseOutcomePath(path string) (project, runID string, ok bool) {
	rest, found := strings.CutSuffix(path, OutcomeSuffix)
	if !found {
		return "", "", false
	}
	return ParsePath(rest)
}

// MaxLogTail is how much of the end of each of stdout and stderr an
// outcome keeps: enough for a traceback and the last progress lines.
const MaxLogTail = 64 << 10

// Outcome is how a run ended, kept after Nomad collects its job: the
// state, exit code and reason that report gave when the run ended, what it
// cost, and the end of its logs.
type Outcome struct {
	RunID string `json:"run_id"`
	State State  `json:"state"`
	// ExitCode is the main task's last exit code; nil when it never exited
	// (stopped before it started, lost with its node).
	ExitCode *int `json:"exit_code,omitempty"`
	// Reason is report's finding kind (oom-killed, user-error, timeout,
	// ...) and Summary its sentence.
	Reason  string `json:"reason"`
	Summary string `json:"summary"`
	// Attempts counts the run's allocations (reschedules included).
	Attempts   int       `json:"attempts"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// GPUSeconds is GPU time held over every attempt; Cost is GPU time
	// at the pool's price when one is known.
	GPUSeconds float64  `json:"gpu_seconds"`
	Cost       *float64 `json:"cost,omitempty"`
	Node       string   `json:"node,omitempty"`
	AllocID    string   `json:"alloc_id,omitempty"`
	// StoppedBy and StopReason say who stopped the run and why
	// (caravan stop -reason), when it was stopped.
	StoppedBy  string `json:"stopped_by,omitempty"`
	StopReason string `json:"stop_reason,omitempty"`
	// Stall is the controller's stall marker, when it found the run
	// stalled before it ended.
	Stall *Stall `json:"stall,omitempty"`
	// Stdout and Stderr are the last MaxLogTail bytes of the main task's
	// logs of its latest attempt; a tail that had to be cut starts with
	// the first whole line kept.
	Stdout     string    `json:"stdout,omitempty"`
	Stderr     string    `json:"stderr,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}
