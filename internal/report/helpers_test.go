package report

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

// The builders below are those of internal/report/triage's tests, for the
// renderers' tests of the same reports.

const (
	run    = api.AllocDesiredStatusRun
	stop   = api.AllocDesiredStatusStop
	failed = api.AllocClientStatusFailed
	done   = api.AllocClientStatusComplete
)

// t0 is the start of every synthetic run.
var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// fixturesDir finds shared/nomad-api-fixtures by walking up from the test's
// directory: in this workspace shared/ sits beside the repository, as in CI.
func fixturesDir(t testing.TB) string {
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

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureAlloc(t testing.TB) *api.Allocation {
	t.Helper()
	var a api.Allocation
	if err := json.Unmarshal(readFixture(t, "get-allocation-fails-exit3.json"), &a); err != nil {
		t.Fatalf("decode get-allocation-fails-exit3.json: %v", err)
	}
	return &a
}

// ev builds a task event at t0+at.
func ev(typ string, at time.Duration, msg string, details map[string]string) *api.TaskEvent {
	return &api.TaskEvent{Type: typ, Time: t0.Add(at).UnixNano(), DisplayMessage: msg, Details: details}
}

func terminated(at time.Duration, code int, oom bool) *api.TaskEvent {
	e := ev(api.TaskTerminated, at, "Exit Code: "+strconv.Itoa(code), map[string]string{
		"exit_code": strconv.Itoa(code), "signal": "0", "oom_killed": map[bool]string{true: "true", false: "false"}[oom]})
	e.ExitCode = code
	if oom {
		e.DisplayMessage += `, Exit Message: "OOM Killed"`
	}
	return e
}

// alloc builds an allocation of run "train-1a2b3c4d" whose task "train"
// ran from t0 for ran (still running when ran < 0), with gpus GPUs.
func alloc(id string, index uint64, client, desired string, ran time.Duration, gpus int, events ...*api.TaskEvent) *api.Allocation {
	ts := &api.TaskState{State: "dead", StartedAt: t0, Events: append([]*api.TaskEvent{
		ev(api.TaskReceived, -2*time.Second, "Task received by client", nil),
		ev(api.TaskStarted, 0, "Task started by client", nil),
	}, events...)}
	if ran >= 0 {
		ts.FinishedAt = t0.Add(ran)
	} else {
		ts.State = "running"
	}
	ts.Failed = client == api.AllocClientStatusFailed
	var ids []string
	for i := 0; i < gpus; i++ {
		ids = append(ids, "GPU-"+strconv.Itoa(i))
	}
	return &api.Allocation{
		ID: id, JobID: "train-1a2b3c4d", Namespace: "default", TaskGroup: "run",
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

func testRecord() *record.Run {
	return &record.Run{RunID: "train-1a2b3c4d", Experiment: "train", Pool: "h100", NodePool: "gpu",
		Namespace: "default", GPUs: 4, PricePerHour: 20, GPUsPerNode: 8,
		Job: json.RawMessage(`{"ID":"train-1a2b3c4d","Meta":{"caravan_timeout":"8h"}}`)}
}

// usage builds a summary of n samples over dur with the given series
// generators (nil: series absent).
func usage(n int, dur time.Duration, util, gpuMem, rss func(i int, t float64) float64) *record.Usage {
	u := &record.Usage{RunID: "train-1a2b3c4d", AllocID: "", Node: "gpu-node-1", Start: t0, End: t0.Add(dur),
		Samples: n * 4, IntervalS: 5, GPUs: 4, GPUMemTotal: 4 * 80 << 30, MemLimit: 16 << 30}
	for i := 0; i < n; i++ {
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
	u.GPUUtilMean = meanOf(u.Timeline.GPUUtil)
	return u
}

// meanOf is the mean of v's finite values, as the agent computes it.
func meanOf(v []float64) float64 {
	var s float64
	n := 0
	for _, x := range v {
		if finite(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

const gib = float64(1 << 30)

func constant(v float64) func(int, float64) float64 { return func(int, float64) float64 { return v } }

// rigLeak is the rig's leak: a raw_exec run on one simulated GPU (which
// reports no utilisation) growing 8 MiB/s towards its 200 MiB limit,
// sampled every 5 s from the cgroup; the kernel killed it between samples.
// kills is what the agent counted; last is the last sample's time.
func rigLeak(kills int, last time.Duration) (*record.Usage, *api.Allocation) {
	const limit = 200 << 20
	u := &record.Usage{RunID: "train-1a2b3c4d", Node: "gpu-node-1", Start: t0, End: t0.Add(last), IntervalS: 5, GPUs: 1,
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
	a := alloc("4e1f0c2a-0000-4000-8000-000000000003", 10, failed, run, 25*time.Second, 1, terminated(25*time.Second, 137, false))
	a.AllocatedResources.Tasks["train"].Memory.MemoryMB = 200
	return u, a
}

func stalled(alloc string, stopped bool) *record.Stall {
	step := 3.0
	return &record.Stall{RunID: "train-1a2b3c4d", AllocID: alloc, Since: t0.Add(6 * time.Minute), DetectedAt: t0.Add(36 * time.Minute),
		TimeoutS: 1800, Step: &step, Action: record.OnStallStop, Stopped: stopped,
		Evidence: []string{"no output since 20:06:00 (1200 bytes of logs)", "CPU at most 0.00 cores since 20:06:00"}}
}
