package controller

import (
	"fmt"
	"math"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// What counts as "~0": below these a sample shows the run idle. A process
// blocked on a lock, a socket or a dead peer sits at 0.00 cores; one
// that polls, logs or trains uses far more.
const (
	idleCPUCores = 0.05
	idleGPUUtil  = 0.02
)

// stallInput is what judgeStall looks at for one running allocation.
type stallInput struct {
	RunID, AllocID string
	// Started is when the allocation's task started.
	Started  time.Time
	Activity nomad.Activity
	// Usage is the agent's summary of the run; nil when it wrote none.
	Usage   *record.Usage
	Timeout time.Duration
	Action  string
	Now     time.Time
}

// judgeStall decides whether a run is stalled: it printed nothing, wrote no
// metric, and every usage sample showed ~0 CPU (and ~0 GPU where measured)
// for at least its stall_timeout. It is pure. A run that is not stalled
// comes with its last sign of life (s.Since) when it could be judged, and
// otherwise with why not: a run is never called stalled on missing data.
func judgeStall(in stallInput) (s record.Stall, stalled bool, why string) {
	u := in.Usage
	switch {
	case u == nil:
		return s, false, "no usage summary: is caravan-agent running on its node?"
	case u.AllocID != "" && u.AllocID != in.AllocID:
		return s, false, "the usage summary is of an earlier attempt"
	case !u.Has(record.FigureCPU) || len(u.Timeline.CPU) == 0:
		return s, false, "its usage summary has no CPU figure"
	}
	since := in.Started
	later := func(t time.Time) {
		if t.After(since) {
			since = t
		}
	}
	later(in.Activity.LastOutput)
	later(in.Activity.LastMetric)
	var step *float64
	for _, m := range u.Metrics {
		if n := len(m.T); n > 0 {
			later(u.Start.Add(seconds(m.T[n-1])))
		}
		if m.Count > 0 && (step == nil || m.Last.Step > *step) {
			v := m.Last.Step
			step = &v
		}
	}
	peakCPU, gpuSeen := 0.0, false
	tl := u.Timeline
	for i, t := range tl.T {
		at := u.Start.Add(seconds(t))
		cpu := at0(tl.CPU, i)
		gpu := at0(tl.GPUUtil, i)
		gpuSeen = gpuSeen || !math.IsNaN(gpu)
		// A sample the agent missed proves nothing: it counts as busy.
		if math.IsNaN(cpu) || cpu > idleCPUCores || (!math.IsNaN(gpu) && gpu > idleGPUUtil) {
			later(at)
			peakCPU = 0
			continue
		}
		if at.After(since) {
			peakCPU = max(peakCPU, cpu)
		}
	}
	if in.Now.Sub(since) < in.Timeout || u.End.Sub(since) < in.Timeout {
		return record.Stall{RunID: in.RunID, AllocID: in.AllocID, Since: since.UTC()}, false, ""
	}
	s = record.Stall{RunID: in.RunID, AllocID: in.AllocID, Since: since.UTC(), DetectedAt: in.Now.UTC(),
		TimeoutS: in.Timeout.Seconds(), Step: step, Action: in.Action}
	s.Evidence = append(s.Evidence, fmt.Sprintf("no output since %s (%d bytes of logs)", clock(in.Activity.LastOutput, in.Started), in.Activity.OutputBytes))
	if step != nil || !in.Activity.LastMetric.IsZero() {
		s.Evidence = append(s.Evidence, "no metric since "+clock(in.Activity.LastMetric, in.Started))
	} else {
		s.Evidence = append(s.Evidence, "no metric written")
	}
	s.Evidence = append(s.Evidence, fmt.Sprintf("CPU at most %.2f cores since %s", peakCPU, since.UTC().Format("15:04:05")))
	if gpuSeen {
		s.Evidence = append(s.Evidence, fmt.Sprintf("GPU utilisation under %.0f%% since %s", 100*idleGPUUtil, since.UTC().Format("15:04:05")))
	} else {
		s.Evidence = append(s.Evidence, "GPU utilisation: no data (its GPUs report none)")
	}
	return s, true, ""
}

// at0 is s[i], or NaN past its end (a series the agent had no source for).
func at0(s record.Series, i int) float64 {
	if i < len(s) {
		return s[i]
	}
	return math.NaN()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// clock is t as a time of day, or "it started" when t is zero or before
// the start.
func clock(t, start time.Time) string {
	if t.IsZero() || !t.After(start) {
		return "it started"
	}
	return t.UTC().Format("15:04:05")
}
