// Package triagetest builds the runs that the tests of triage and of its
// renderers (internal/report) diagnose: allocations, task events, records,
// usage summaries and stall markers of one synthetic run, and Nomad's
// recorded answers from shared/nomad-api-fixtures.
//
// It is for tests only; nothing outside _test.go files imports it.
package triagetest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// RunID is the synthetic run's ID.
const RunID = "train-1a2b3c4d"

// GiB is a gibibyte, as the float the usage series hold.
const GiB = float64(1 << 30)

// T0 is the start of every synthetic run.
var T0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// FixturesDir finds shared/nomad-api-fixtures by walking up from the
// test's directory (shared/ sits beside the repository, here and in CI);
// the test is skipped where there is none.
func FixturesDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		d := filepath.Join(dir, "shared", "nomad-api-fixtures")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/nomad-api-fixtures not found above the test directory")
		}
		dir = parent
	}
}

// ReadFixture reads one recorded Nomad answer.
func ReadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FixtureAlloc is the allocation Nomad returned for a task that exited 3.
func FixtureAlloc(t testing.TB) *api.Allocation {
	t.Helper()
	var a api.Allocation
	if err := json.Unmarshal(ReadFixture(t, "get-allocation-fails-exit3.json"), &a); err != nil {
		t.Fatalf("decode get-allocation-fails-exit3.json: %v", err)
	}
	return &a
}

// Event builds a task event at T0+at.
func Event(typ string, at time.Duration, msg string, details map[string]string) *api.TaskEvent {
	return &api.TaskEvent{Type: typ, Time: T0.Add(at).UnixNano(), DisplayMessage: msg, Details: details}
}

// Terminated is Nomad's event for a task that exited with code at T0+at,
// killed by the OOM killer when oom.
func Terminated(at time.Duration, code int, oom bool) *api.TaskEvent {
	e := Event(api.TaskTerminated, at, "Exit Code: "+strconv.Itoa(code), map[string]string{
		"exit_code": strconv.Itoa(code), "signal": "0", "oom_killed": strconv.FormatBool(oom)})
	e.ExitCode = code
	if oom {
		e.DisplayMessage += `, Exit Message: "OOM Killed"`
	}
	return e
}

// Alloc builds an allocation of the run whose task "train" ran from T0 for
// ran (still running when ran < 0), with gpus GPUs.
func Alloc(id string, index uint64, client, desired string, ran time.Duration, gpus int, events ...*api.TaskEvent) *api.Allocation {
	ts := &api.TaskState{State: "dead", StartedAt: T0, Events: append([]*api.TaskEvent{
		Event(api.TaskReceived, -2*time.Second, "Task received by client", nil),
		Event(api.TaskStarted, 0, "Task started by client", nil),
	}, events...)}
	if ran >= 0 {
		ts.FinishedAt = T0.Add(ran)
	} else {
		ts.State = "running"
	}
	ts.Failed = client == api.AllocClientStatusFailed
	var ids []string
	for i := range gpus {
		ids = append(ids, "GPU-"+strconv.Itoa(i))
	}
	return &api.Allocation{
		ID: id, JobID: RunID, Namespace: "default", TaskGroup: "run",
		NodeID: "50fd6692-4006-9c4b-25b3-057bef3e5285", NodeName: "gpu-node-1",
		ClientStatus: client, DesiredStatus: desired, CreateIndex: index,
		TaskStates: map[string]*api.TaskState{"train": ts},
		AllocatedResources: &api.AllocatedResources{Tasks: map[string]*api.AllocatedTaskResources{
			"train": {Memory: api.AllocatedMemoryResources{MemoryMB: 16384},
				Devices: []*api.AllocatedDeviceResource{{Vendor: "nvidia", Type: "gpu", Name: "H100", DeviceIDs: ids}}},
		}},
		Job: &api.Job{Meta: map[string]string{"caravan_timeout": "8h"}},
	}
}

// Record is the run's record: 4 GPUs of an 8-GPU pool at 20 an hour.
func Record() *record.Run {
	return &record.Run{RunID: RunID, Experiment: "train", Pool: "h100", NodePool: "gpu",
		Namespace: "default", GPUs: 4, PricePerHour: 20, GPUsPerNode: 8,
		Job: json.RawMessage(`{"ID":"` + RunID + `","Meta":{"caravan_timeout":"8h"}}`)}
}

// Usage builds a summary of n samples over dur from the given series
// generators (nil: the series is absent).
func Usage(n int, dur time.Duration, util, gpuMem, rss func(i int, t float64) float64) *record.Usage {
	u := &record.Usage{RunID: RunID, Node: "gpu-node-1", Start: T0, End: T0.Add(dur),
		Samples: n * 4, IntervalS: 5, GPUs: 4, GPUMemTotal: 4 * 80 << 30, MemLimit: 16 << 30}
	for i := range n {
		t := dur.Seconds() * float64(i) / float64(n-1)
		u.Timeline.T = append(u.Timeline.T, t)
		if util != nil {
			v := util(i, t)
			u.Timeline.GPUUtil = append(u.Timeline.GPUUtil, v)
			u.GPUUtilPeak = math.Max(u.GPUUtilPeak, v)
		}
		if gpuMem != nil {
			v := gpuMem(i, t)
			u.Timeline.GPUMem = append(u.Timeline.GPUMem, v)
			u.GPUMemPeak = max(u.GPUMemPeak, int64(v))
		}
		if rss != nil {
			v := rss(i, t)
			u.Timeline.RSS = append(u.Timeline.RSS, v)
			u.RSSPeak = max(u.RSSPeak, int64(v))
		}
	}
	u.GPUUtilMean = mean(u.Timeline.GPUUtil)
	return u
}

// mean is the mean of v's finite values, as the agent computes it.
func mean(v []float64) float64 {
	var s float64
	n := 0
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// Constant is a series generator of one value.
func Constant(v float64) func(int, float64) float64 { return func(int, float64) float64 { return v } }

// RigLeak is the rig's leak: a raw_exec run on one simulated GPU (which
// reports no utilisation) growing 8 MiB/s towards its 200 MiB limit,
// sampled every 5 s from the cgroup; the kernel killed it between samples.
// kills is what the agent counted; last is the last sample's time.
func RigLeak(kills int, last time.Duration) (*record.Usage, *api.Allocation) {
	const limit = 200 << 20
	u := &record.Usage{RunID: RunID, Node: "gpu-node-1", Start: T0, End: T0.Add(last), IntervalS: 5, GPUs: 1,
		MemLimit: limit, OOMKills: kills,
		Sources: map[string]string{record.FigureRSS: record.SourceCgroup, record.FigureCPU: record.SourceProc, record.FigureMemory: record.SourceCgroup}}
	if kills > 0 {
		u.Sources[record.FigureOOMKills] = record.SourceCgroup
	}
	for t := time.Duration(0); t <= last; t += 5 * time.Second {
		rss := float64(8<<20) * t.Seconds()
		u.Timeline.T = append(u.Timeline.T, t.Seconds())
		u.Timeline.RSS = append(u.Timeline.RSS, rss)
		u.Timeline.CPU = append(u.Timeline.CPU, 0.02)
		u.RSSPeak = max(u.RSSPeak, int64(rss))
		u.MemPeak = max(u.MemPeak, int64(rss)+1<<20)
		u.Samples++
	}
	// Nomad's event for the kill: exit 137, oom_killed false.
	a := Alloc("4e1f0c2a-0000-4000-8000-000000000003", 10, api.AllocClientStatusFailed, api.AllocDesiredStatusRun,
		25*time.Second, 1, Terminated(25*time.Second, 137, false))
	a.AllocatedResources.Tasks["train"].Memory.MemoryMB = 200
	return u, a
}

// Stalled is the controller's marker for the run's allocation alloc,
// stopped or only reported.
func Stalled(alloc string, stopped bool) *record.Stall {
	step := 3.0
	return &record.Stall{RunID: RunID, AllocID: alloc, Since: T0.Add(6 * time.Minute), DetectedAt: T0.Add(36 * time.Minute),
		TimeoutS: 1800, Step: &step, Action: record.OnStallStop, Stopped: stopped,
		Evidence: []string{"no output since 20:06:00 (1200 bytes of logs)", "CPU at most 0.00 cores since 20:06:00"}}
}

// Metric is a metric series of vals at steps 1, 2, ..., one a second.
func Metric(name string, vals ...float64) record.Metric {
	m := record.Metric{Name: name, Count: len(vals)}
	for i, v := range vals {
		p := record.MetricPoint{Step: float64(i + 1), Value: v}
		m.Step, m.T, m.Value = append(m.Step, p.Step), append(m.T, float64(i)), append(m.Value, v)
		if i == 0 || v < m.Min.Value {
			m.Min = p
		}
		if i == 0 || v > m.Max.Value {
			m.Max = p
		}
		m.Last = p
	}
	return m
}
