package controller

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

var t0 = time.Date(2026, 12, 3, 15, 40, 0, 0, time.UTC)

// usageOf is a summary sampled every 10 s from t0 for n samples, with CPU
// cpu(i) and, when gpu is not nil, GPU utilisation gpu(i).
func usageOf(n int, cpu func(int) float64, gpu func(int) float64) *record.Usage {
	u := &record.Usage{RunID: "r-1", AllocID: "a1", Start: t0, End: t0.Add(time.Duration(n-1) * 10 * time.Second),
		Sources: map[string]string{record.FigureCPU: record.SourceCgroup}}
	for i := range n {
		u.Timeline.T = append(u.Timeline.T, float64(10*i))
		u.Timeline.CPU = append(u.Timeline.CPU, cpu(i))
		if gpu != nil {
			u.Timeline.GPUUtil = append(u.Timeline.GPUUtil, gpu(i))
		}
	}
	if gpu != nil {
		u.Sources[record.FigureGPUUtil] = record.SourceNVML
	}
	return u
}

func busyUntil(i0 int, v float64) func(int) float64 {
	return func(i int) float64 {
		if i <= i0 {
			return v
		}
		return 0.001
	}
}

// TestJudgeStall: a run is stalled only when every sign of life (output,
// metric, CPU, GPU) has been absent for its stall_timeout, and the agent's
// samples cover that time; missing data never makes a stall.
func TestJudgeStall(t *testing.T) {
	withMetric := func(u *record.Usage) *record.Usage {
		u.Metrics = []record.Metric{{Name: "loss", Step: []float64{1, 2, 3}, T: []float64{5, 10, 15}, Value: record.Series{0.9, 0.5, 0.4},
			Last: record.MetricPoint{Step: 3, Value: 0.4}, Count: 3}}
		return u
	}
	tests := []struct {
		name      string
		act       nomad.Activity
		u         *record.Usage
		timeout   time.Duration
		stalled   bool
		why       string
		since     time.Time
		step      string
		evidences []string
	}{
		{name: "idle after step 3", act: nomad.Activity{LastOutput: t0.Add(20 * time.Second), OutputBytes: 42},
			u: withMetric(usageOf(40, busyUntil(2, 1.0), nil)), timeout: 5 * time.Minute, stalled: true,
			since: t0.Add(20 * time.Second), step: "3", evidences: []string{"no output since 15:40:20 (42 bytes of logs)", "GPU utilisation: no data"}},
		{name: "still computing", act: nomad.Activity{LastOutput: t0},
			u: usageOf(40, func(int) float64 { return 0.9 }, nil), timeout: 5 * time.Minute},
		{name: "printing", act: nomad.Activity{LastOutput: t0.Add(380 * time.Second)},
			u: usageOf(40, busyUntil(0, 1), nil), timeout: 5 * time.Minute},
		{name: "metric written lately", act: nomad.Activity{LastMetric: t0.Add(300 * time.Second)},
			u: usageOf(40, busyUntil(0, 1), nil), timeout: 5 * time.Minute},
		{name: "GPU busy, CPU idle", act: nomad.Activity{},
			u: usageOf(40, busyUntil(0, 1), func(int) float64 { return 0.95 }), timeout: 5 * time.Minute},
		{name: "idle GPU and CPU", act: nomad.Activity{},
			u: usageOf(40, busyUntil(0, 1), func(int) float64 { return 0 }), timeout: 5 * time.Minute, stalled: true,
			since: t0, evidences: []string{"GPU utilisation under 2%", "no metric written"}},
		{name: "samples missed count as busy", act: nomad.Activity{},
			u: usageOf(40, func(i int) float64 {
				if i == 30 {
					return math.NaN()
				}
				return 0
			}, nil), timeout: 5 * time.Minute},
		{name: "samples do not cover the window yet", act: nomad.Activity{},
			u: usageOf(20, busyUntil(0, 1), nil), timeout: 5 * time.Minute},
		{name: "no usage", act: nomad.Activity{}, timeout: time.Minute, why: "no usage summary"},
		{name: "no CPU figure", act: nomad.Activity{}, timeout: time.Minute, why: "no CPU figure",
			u: func() *record.Usage {
				u := usageOf(40, busyUntil(0, 1), nil)
				u.Sources = map[string]string{}
				return u
			}()},
		{name: "earlier attempt", act: nomad.Activity{}, timeout: time.Minute, why: "earlier attempt",
			u: func() *record.Usage { u := usageOf(40, busyUntil(0, 1), nil); u.AllocID = "a0"; return u }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := stallInput{RunID: "r-1", AllocID: "a1", Started: t0, Activity: tc.act, Usage: tc.u, Timeout: tc.timeout,
				Action: record.OnStallStop, Now: t0.Add(10 * time.Minute)}
			s, stalled, why := judgeStall(in)
			if stalled != tc.stalled || !strings.Contains(why, tc.why) || (tc.why == "" && why != "") {
				t.Fatalf("stalled %v (%q), want %v (%q)", stalled, why, tc.stalled, tc.why)
			}
			if !stalled {
				return
			}
			if !s.Since.Equal(tc.since) {
				t.Errorf("since %s, want %s", s.Since, tc.since)
			}
			step := ""
			if s.Step != nil {
				step = strconv.FormatFloat(*s.Step, 'f', -1, 64)
			}
			if step != tc.step {
				t.Errorf("step %q, want %q", step, tc.step)
			}
			all := strings.Join(s.Evidence, "\n")
			for _, e := range tc.evidences {
				if !strings.Contains(all, e) {
					t.Errorf("evidence lacks %q:\n%s", e, all)
				}
			}
		})
	}
}

// stallFake is a hand-written StallNomad: one running run with a
// stall_timeout, its activity and usage, and the variables written.
type stallFake struct {
	job    *api.JobListStub
	alloc  *api.AllocationListStub
	act    nomad.Activity
	usage  *record.Usage
	vars   map[string]map[string]string
	stops  []string
	usageN int
}

func (f *stallFake) CaravanJobs(context.Context, string) ([]*api.JobListStub, error) {
	return []*api.JobListStub{f.job}, nil
}

func (f *stallFake) JobAllocations(context.Context, string, string) ([]*api.AllocationListStub, error) {
	return []*api.AllocationListStub{f.alloc}, nil
}

func (f *stallFake) AllocActivity(context.Context, string, string, string, string) (nomad.Activity, error) {
	return f.act, nil
}

func (f *stallFake) Usage(context.Context, record.Ref) (*record.Usage, error) {
	f.usageN++
	if f.usage == nil {
		return nil, nomad.ErrNotFound
	}
	return f.usage, nil
}

func (f *stallFake) Variable(_ context.Context, _, path string) (*api.Variable, error) {
	items, ok := f.vars[path]
	if !ok {
		return nil, nomad.ErrNotFound
	}
	return &api.Variable{Path: path, Items: items, ModifyIndex: 7}, nil
}

func (f *stallFake) PutVariable(_ context.Context, _, path string, items map[string]string, _ int64) (*api.Variable, error) {
	f.vars[path] = items
	return &api.Variable{Path: path, Items: items}, nil
}

func (f *stallFake) StopJob(_ context.Context, _, id string) (string, error) {
	f.stops = append(f.stops, id)
	return "eval", nil
}

func newStallFake(onStall string) *stallFake {
	meta := map[string]string{record.MetaManagedBy: record.ManagedByValue, record.MetaRunID: "r-1", record.MetaProject: "p",
		record.MetaStallTimeout: "5m"}
	if onStall != "" {
		meta[record.MetaOnStall] = onStall
	}
	return &stallFake{
		job: &api.JobListStub{ID: "r-1", Namespace: "default", Status: "running", Meta: meta},
		alloc: &api.AllocationListStub{ID: "a1", ClientStatus: "running", DesiredStatus: "run",
			TaskStates: map[string]*api.TaskState{"train": {State: "running", StartedAt: t0}}},
		act:   nomad.Activity{LastOutput: t0.Add(20 * time.Second)},
		usage: usageOf(40, busyUntil(2, 1), nil),
		vars:  map[string]map[string]string{},
	}
}

// TestStallPassStops: on_stall = "stop" marks the run, records who
// stopped it and why (the outcome takes that), and stops its job, once;
// warn only marks it.
func TestStallPassStops(t *testing.T) {
	ref := record.Ref{Namespace: "default", Project: "p", RunID: "r-1"}
	for _, tc := range []struct {
		onStall string
		stops   int
	}{{"stop", 1}, {"", 0}} {
		f := newStallFake(tc.onStall)
		s := NewStalls(StallsConfig{Nomad: f, Now: func() time.Time { return t0.Add(10 * time.Minute) }})
		res, err := s.Pass(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Stalled != 1 || res.Stopped != tc.stops || len(f.stops) != tc.stops {
			t.Fatalf("on_stall %q: %+v, stops %v", tc.onStall, res, f.stops)
		}
		var st record.Stall
		if err := json.Unmarshal([]byte(f.vars[ref.StallPath()]["stall"]), &st); err != nil {
			t.Fatalf("no stall marker: %v (%v)", err, f.vars)
		}
		if st.AllocID != "a1" || !st.Since.Equal(t0.Add(20*time.Second)) || st.Stopped != (tc.stops == 1) {
			t.Errorf("marker %+v", st)
		}
		stop := f.vars[ref.Path()+StopSuffix]["stop"]
		if (tc.stops == 1) != strings.Contains(stop, `"reason":"stalled"`) {
			t.Errorf("stop record %q", stop)
		}
		// A second pass marks nothing again and stops nothing again.
		marker := f.vars[ref.StallPath()]["stall"]
		if res, _ := s.Pass(context.Background()); res.Stalled != 0 || len(f.stops) != tc.stops || f.vars[ref.StallPath()]["stall"] != marker {
			t.Errorf("second pass: %+v, stops %v", res, f.stops)
		}
	}
}

// TestStallPassLeavesBusyRuns: a run that prints is never marked, and a
// run without a stall_timeout is not looked at.
func TestStallPassLeavesBusyRuns(t *testing.T) {
	f := newStallFake("stop")
	f.act.LastOutput = t0.Add(9 * time.Minute)
	s := NewStalls(StallsConfig{Nomad: f, Now: func() time.Time { return t0.Add(10 * time.Minute) }})
	if res, err := s.Pass(context.Background()); err != nil || res.Stalled != 0 || len(f.vars) != 0 {
		t.Errorf("busy run: %+v %v %v", res, err, f.vars)
	}
	delete(f.job.Meta, record.MetaStallTimeout)
	f.act.LastOutput = t0
	if res, _ := s.Pass(context.Background()); res.Watched != 0 || len(f.stops) != 0 {
		t.Errorf("run without stall_timeout: %+v", res)
	}
}

// TestStallResumes: a run marked stalled under on_stall = "warn" that
// prints again is marked resumed, and found stalled anew if it hangs
// again later.
func TestStallResumes(t *testing.T) {
	ref := record.Ref{Namespace: "default", Project: "p", RunID: "r-1"}
	f := newStallFake("")
	now := t0.Add(10 * time.Minute)
	s := NewStalls(StallsConfig{Nomad: f, Now: func() time.Time { return now }})
	marker := func() record.Stall {
		var st record.Stall
		if err := json.Unmarshal([]byte(f.vars[ref.StallPath()]["stall"]), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if res, _ := s.Pass(context.Background()); res.Stalled != 1 {
		t.Fatalf("first pass: %+v", res)
	}
	f.act.LastOutput = t0.Add(10 * time.Minute)
	if res, _ := s.Pass(context.Background()); res.Stalled != 0 || marker().ResumedAt.IsZero() {
		t.Fatalf("after it printed: %+v, marker %+v", res, marker())
	}
	// Silent again for longer than stall_timeout, with samples to show it.
	now = t0.Add(20 * time.Minute)
	f.usage = usageOf(120, busyUntil(2, 1), nil)
	if res, _ := s.Pass(context.Background()); res.Stalled != 1 || !marker().ResumedAt.IsZero() || !marker().Since.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("hung again: %+v, marker %+v", res, marker())
	}
}
