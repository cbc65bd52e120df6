package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Figures of a Usage, the keys of Usage.Sources.
const (
	FigureGPUUtil  = "gpu_util"  // GPUUtilMean, GPUUtilPeak, Timeline.GPUUtil
	FigureGPUMem   = "gpu_mem"   // GPUMemPeak, Timeline.GPUMem
	FigureRSS      = "rss"       // RSSPeak, Timeline.RSS
	FigureCPU      = "cpu"       // Timeline.CPU
	FigureMemory   = "memory"    // MemPeak: memory charged to the run's cgroups
	FigureOOMKills = "oom_kills" // OOMKills
	FigureNet      = "net"       // Timeline.NetRx, Timeline.NetTx
)

// Sources of a figure, the values of Usage.Sources.
const (
	SourceNVML   = "nvml"   // the NVIDIA driver
	SourceNomad  = "nomad"  // Nomad's allocation stats or device plugin
	SourceCgroup = "cgroup" // the allocation's cgroups
	SourceProc   = "proc"   // the run's processes in /proc
	SourceKmsg   = "kmsg"   // the kernel log
	SourceNetNS  = "netns"  // the run's own network namespace
)

// Has reports whether the summary has a source for figure. Summaries
// written before Sources existed have every figure, as they always claimed.
func (u *Usage) Has(figure string) bool {
	if u == nil {
		return false
	}
	if u.Sources == nil {
		return true
	}
	return u.Sources[figure] != ""
}

// The metrics a run writes about itself. The compiled job points
// MetricsEnv at MetricsFile in its allocation directory, and the agent on
// the node reads that file: a line of JSON per report, such as
// {"step": 120, "loss": 0.31}.
const (
	MetricsEnv  = "CARAVAN_METRICS"
	MetricsFile = "caravan-metrics.jsonl"
	// MetricStepKey is the key of a metrics line that holds its step.
	MetricStepKey = "step"
)

// Bounds of Usage.Metrics, which lives in one Nomad variable with the rest
// of the summary.
const (
	MaxMetrics      = 32  // distinct metric names per run
	MaxMetricPoints = 128 // points per metric series
)

// Metric is one metric of a run's own: a down-sampled series of (step,
// time, value) points, and the exact last, lowest and highest values read,
// so that the best value does not depend on down-sampling.
type Metric struct {
	Name  string      `json:"name"`
	Step  []float64   `json:"step"`
	T     []float64   `json:"t"` // seconds since Usage.Start when the agent read the value
	Value Series      `json:"value"`
	Last  MetricPoint `json:"last"`
	Min   MetricPoint `json:"min"`
	Max   MetricPoint `json:"max"`
	Count int         `json:"count"` // values read
}

// MetricPoint is one value of a metric at its step.
type MetricPoint struct {
	Step  float64 `json:"step"`
	Value float64 `json:"value"`
}

// Series is a timeline series. NaN stands for a sample without data and
// is written as JSON null (JSON has no NaN); null reads back as NaN.
// Summaries written before gaps existed decode unchanged.
type Series []float64

// MarshalJSON writes NaN and infinities as null.
func (s Series) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+8*len(s))
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = appendFloat(b, v)
	}
	return append(b, ']'), nil
}

// appendFloat formats v as encoding/json does.
func appendFloat(b []byte, v float64) []byte {
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b
}

// UnmarshalJSON reads null elements as NaN.
func (s *Series) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*s = nil
		return nil
	}
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("a timeline series: %w", err)
	}
	out := make(Series, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	*s = out
	return nil
}

// Halve keeps every other point of each timeline and metric series, for a
// summary too large for its variable: coarser history beats none. It
// reports false when no series has two points left to halve. The slices
// are new; u's old ones are not changed.
func (u *Usage) Halve() bool {
	halved := false
	h := func(s []float64) []float64 {
		if s == nil {
			return nil
		}
		if len(s) >= 2 {
			halved = true
		}
		out := make([]float64, 0, (len(s)+1)/2)
		for i := 0; i < len(s); i += 2 {
			out = append(out, s[i])
		}
		return out
	}
	t := u.Timeline
	u.Timeline = Timeline{T: h(t.T), GPUUtil: h(t.GPUUtil), GPUMem: h(t.GPUMem), RSS: h(t.RSS), CPU: h(t.CPU), NetRx: h(t.NetRx), NetTx: h(t.NetTx)}
	ms := make([]Metric, len(u.Metrics))
	for i, m := range u.Metrics {
		m.Step, m.T, m.Value = h(m.Step), h(m.T), h(m.Value)
		ms[i] = m
	}
	if u.Metrics != nil {
		u.Metrics = ms
	}
	return halved
}
