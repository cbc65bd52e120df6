package triage

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
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
	e := ev(api.TaskTerminated, at, "Exit Code: "+itoa(code), map[string]string{
		"exit_code": itoa(code), "signal": "0", "oom_killed": map[bool]string{true: "true", false: "false"}[oom]})
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
		ids = append(ids, "GPU-"+itoa(i))
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

// noise returns a deterministic N(0, sd) source.
func noise(seed uint64, sd float64) func() float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() float64 { return r.NormFloat64() * sd }
}

const gib = float64(1 << 30)
const mibf = float64(1 << 20)

func constant(v float64) func(int, float64) float64 { return func(int, float64) float64 { return v } }
