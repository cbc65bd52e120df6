package agent

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// runMetrics is what the agent keeps of one run's own metrics: the file it
// tails, the latest value of each metric, and a down-sampled series per
// metric for the run's usage summary.
type runMetrics struct {
	tail     metricsTail
	path     string // the file as the agent opens it
	byName   map[string]*metricSeries
	lines    int     // lines with metrics read; the step of a line without one
	step     float64 // the latest step
	hasStep  bool
	bad      int // lines that are not JSON objects
	dropped  int // values of names beyond record.MaxMetrics
	reported int // problems already logged, so each kind is logged once
}

// metricSeries is one metric's exact last, lowest and highest values and
// its down-sampled series of (step, unix time, value) points, merged
// pairwise as the usage timeline is.
type metricSeries struct {
	last, min, max record.MetricPoint
	count          int
	pts            [][3]float64
	acc            [3]float64
	accN, stride   int
}

// MetricValue is a run metric's latest value, as a scrape shows it.
type MetricValue struct {
	Name  string
	Value float64
	Step  float64
}

// add folds one line into the metrics; t is when it was read.
func (m *runMetrics) add(line []byte, t time.Time) {
	step, hasStep, vals, err := parseMetricLine(line)
	if err != nil {
		m.bad++
		return
	}
	if len(vals) == 0 && !hasStep {
		return
	}
	m.lines++
	if !hasStep {
		step = float64(m.lines)
	}
	m.step, m.hasStep = step, true
	ts := float64(t.UnixNano()) / 1e9
	for _, v := range vals {
		s := m.byName[v.Name]
		if s == nil {
			if len(m.byName) >= record.MaxMetrics {
				m.dropped++
				continue
			}
			s = &metricSeries{stride: 1}
			if m.byName == nil {
				m.byName = map[string]*metricSeries{}
			}
			m.byName[v.Name] = s
		}
		s.add(step, ts, v.Value)
	}
}

func (s *metricSeries) add(step, t, v float64) {
	p := record.MetricPoint{Step: step, Value: v}
	if s.count == 0 || v < s.min.Value {
		s.min = p
	}
	if s.count == 0 || v > s.max.Value {
		s.max = p
	}
	s.last = p
	s.count++
	s.acc[0] += step
	s.acc[1] += t
	s.acc[2] += v
	s.accN++
	if s.accN < s.stride {
		return
	}
	n := float64(s.accN)
	s.pts = append(s.pts, [3]float64{s.acc[0] / n, s.acc[1] / n, s.acc[2] / n})
	s.acc, s.accN = [3]float64{}, 0
	if len(s.pts) >= record.MaxMetricPoints {
		half := s.pts[:0]
		for i := 0; i+1 < len(s.pts); i += 2 {
			a, b := s.pts[i], s.pts[i+1]
			half = append(half, [3]float64{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2})
		}
		s.pts = half
		s.stride *= 2
	}
}

// latest is each metric's last value, by name.
func (m *runMetrics) latest() []MetricValue {
	out := make([]MetricValue, 0, len(m.byName))
	for name, s := range m.byName {
		out = append(out, MetricValue{Name: name, Value: s.last.Value, Step: s.last.Step})
	}
	slices.SortFunc(out, func(a, b MetricValue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// export is the metrics for a usage summary whose time axis starts at
// start; pending samples show as a last, partial point.
func (m *runMetrics) export(start time.Time) []record.Metric {
	if len(m.byName) == 0 {
		return nil
	}
	t0 := float64(start.UnixNano()) / 1e9
	out := make([]record.Metric, 0, len(m.byName))
	for name, s := range m.byName {
		pts := s.pts
		if s.accN > 0 {
			n := float64(s.accN)
			pts = append(pts[:len(pts):len(pts)], [3]float64{s.acc[0] / n, s.acc[1] / n, s.acc[2] / n})
		}
		rm := record.Metric{Name: name, Last: s.last, Min: s.min, Max: s.max, Count: s.count,
			Step: make([]float64, len(pts)), T: make([]float64, len(pts)), Value: make(record.Series, len(pts))}
		for i, p := range pts {
			rm.Step[i], rm.T[i], rm.Value[i] = p[0], math.Max(0, p[1]-t0), p[2]
		}
		out = append(out, rm)
	}
	slices.SortFunc(out, func(a, b record.Metric) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// openMetrics opens a run's metrics file. Through one of its processes
// first: the task's own CARAVAN_METRICS, seen through the process's root,
// is right for every driver (a container's /alloc is the task's alloc
// directory) and for a job that moved the file. Else under allocDir, the
// client's allocation directory, where the file stays after the run ends.
//
// The task owns the path and the directory, so the file is opened inside
// the process's root, or the allocation directory, and must be a regular
// file: a symbolic link out of it, or a FIFO that would block the read,
// is refused.
func openMetrics(procRoot, allocDir, allocID string, pids []int) (*os.File, string) {
	for _, pid := range pids {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		b, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil {
			continue
		}
		p := envValue(b, record.MetricsEnv)
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		if f := openIn(filepath.Join(dir, "root"), p); f != nil {
			return f, filepath.Join(dir, "root", p)
		}
		break // the task set it: the file is not there yet
	}
	if allocDir != "" {
		dir := filepath.Join(allocDir, allocID, "alloc")
		if f := openIn(dir, record.MetricsFile); f != nil {
			return f, filepath.Join(dir, record.MetricsFile)
		}
	}
	return nil, ""
}

// openIn opens name, a regular file, inside root.
func openIn(root, name string) *os.File {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil
	}
	defer r.Close()
	f, err := r.OpenFile(strings.TrimPrefix(filepath.Clean(name), "/"), os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil
	}
	return f
}

// envValue is the value of key in a NUL-separated environment, or "".
func envValue(environ []byte, key string) string {
	prefix := []byte(key + "=")
	for kv := range bytes.SplitSeq(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v)
		}
	}
	return ""
}
