package cli

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// reportCluster is a fake Nomad holding one failed run, crashy-1a2b3c4d,
// seeded like get-allocation-fails-exit3.json: a task "train" on
// gpu-node-1 that printed a CUDA out-of-memory line on stderr and exited
// 3 after running 90 minutes, with a record and a usage summary whose host
// memory grows steadily.
func reportCluster(t *testing.T) (srv *nomadtest.Server, runID string) {
	t.Helper()
	ctx := context.Background()
	srv = nomadtest.New(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	srv.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})

	c, err := nomad.New(nomad.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	runID = "crashy-1a2b3c4d"
	str := func(s string) *string { return &s }
	one, prio := 1, 50
	job := &api.Job{ID: str(runID), Name: str(runID), Type: str("batch"), NodePool: str("gpu"), Datacenters: []string{"*"},
		Priority: &prio, Namespace: str("default"),
		Meta: map[string]string{"caravan_managed_by": "caravan", "caravan_run_id": runID, "caravan_experiment": "crashy", "caravan_timeout": "4h"},
		TaskGroups: []*api.TaskGroup{{Name: str("run"), Count: &one, Tasks: []*api.Task{{
			Name: "train", Driver: "raw_exec",
			Config:    map[string]any{"command": "/bin/sh", "args": []string{"-c", "python train.py"}},
			Resources: &api.Resources{CPU: &prio, MemoryMB: &[]int{1024}[0], Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: &[]uint64{1}[0]}}},
		}}}}}
	if _, err := c.RegisterJob(ctx, job, false, 0); err != nil {
		t.Fatalf("register: %v", err)
	}
	allocs := srv.Allocs("default", runID)
	if len(allocs) != 1 {
		t.Fatalf("the fake placed %d allocations, want 1", len(allocs))
	}
	id := allocs[0].ID
	srv.StartAlloc(id)
	advance(90 * time.Minute)
	srv.WriteLog(id, "train", true, "Traceback (most recent call last):\n  File \"train.py\", line 42, in <module>\n"+
		"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
	srv.FailAlloc(id, 3)

	jb, _ := json.Marshal(job)
	if err := c.CreateRecord(ctx, "default", &record.Run{RunID: runID, Experiment: "crashy", Pool: "gpu", NodePool: "gpu",
		Namespace: "default", GPUs: 1, PricePerHour: 8, GPUsPerNode: 2, Job: jb}); err != nil {
		t.Fatalf("seed record: %v", err)
	}
	u := &record.Usage{RunID: runID, AllocID: id, Node: "gpu-node-1", Start: now.Add(-90 * time.Minute), End: now, Final: true,
		Samples: 1080, IntervalS: 5, GPUs: 1, GPUMemTotal: 80 << 30, MemLimit: 1 << 30}
	for i := 0; i < 200; i++ {
		ts := 5400 * float64(i) / 199
		u.Timeline.T = append(u.Timeline.T, ts)
		u.Timeline.GPUUtil = append(u.Timeline.GPUUtil, 0.2+0.05*float64(i%4))
		u.Timeline.GPUMem = append(u.Timeline.GPUMem, float64(70<<30+(i%5)<<24))
		u.Timeline.RSS = append(u.Timeline.RSS, 200<<20+ts*100e3) // 100 kB/s ≈ 343 MiB/h
	}
	u.GPUUtilMean, u.GPUUtilPeak, u.GPUMemPeak, u.RSSPeak = 0.2375, 0.35, 70<<30+4<<24, 200<<20+540e6
	if err := c.PutUsage(ctx, "default", u); err != nil {
		t.Fatalf("seed usage: %v", err)
	}
	return srv, runID
}

func TestReportCommand(t *testing.T) {
	srv, runID := reportCluster(t)
	env := []string{"NOMAD_ADDR=" + srv.URL()}

	res := execCaravan(t, env, "", "report", runID)
	if res.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", res.code, res.stderr)
	}
	for _, want := range []string{
		"FAILED: CUDA ran out of GPU memory (exit code 3)",
		"> RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
		"task train on gpu-node-1",
		"1h 30m",
		"1 · 1.5 GPU-hours · cost 6.00 at 4.00 per GPU-hour",
		"this run paid for 1.5 GPU-hours and used 0.36",
		"Host mem  LEAK +343.3 MiB/h (R² 1.00, trend z 20), hits 1 GiB in ~54m",
		"| Traceback (most recent call last):",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, res.stdout)
		}
	}

	// Flags may follow the run ID; -address overrides NOMAD_ADDR.
	pngPath := filepath.Join(t.TempDir(), "crashy.png")
	res = execCaravan(t, []string{"NOMAD_ADDR=http://127.0.0.1:1"}, "", "report", runID, "-json", "-png", pngPath, "-address", srv.URL())
	if res.code != ExitOK {
		t.Fatalf("-json: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	var r triage.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("-json output is not a report: %v\n%s", err, res.stdout)
	}
	if r.Reason.Kind != triage.KindCUDAOOM || r.ExitCode == nil || *r.ExitCode != 3 || r.Outcome != triage.OutcomeFailed {
		t.Errorf("JSON reason %q outcome %q exit %v", r.Reason.Kind, r.Outcome, r.ExitCode)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatalf("-png wrote no file: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("-png file is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 600 {
		t.Errorf("plot is only %v", b)
	}
}

func TestReportCommandErrors(t *testing.T) {
	srv, _ := reportCluster(t)
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown run", []string{"report", "nope-00000000"}, ExitError, `run "nope-00000000": no such run`},
		{"no run", []string{"report"}, ExitUsage, "exactly one run ID"},
		{"two runs", []string{"report", "a", "b"}, ExitUsage, "exactly one run ID"},
		{"bad flag", []string{"report", "-bogus", "x"}, ExitUsage, "flag provided but not defined"},
		{"Nomad unreachable", []string{"report", "-address", "http://127.0.0.1:1", "x-1"}, ExitError, "cannot reach Nomad at http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := execCaravan(t, env, "", tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q lacks %q", res.code, tt.code, res.stderr, tt.want)
			}
		})
	}
}

func TestReportCommandPNGWithoutUsage(t *testing.T) {
	srv := nomadtest.New(t)
	c, err := nomad.New(nomad.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRecord(context.Background(), "default", &record.Run{RunID: "q-1", Experiment: "q", Namespace: "default", GPUs: 1}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "q.png")
	res := execCaravan(t, []string{"NOMAD_ADDR=" + srv.URL()}, "", "report", "-png", out, "q-1")
	if res.code != ExitError || !strings.Contains(res.stderr, "no usage timeline") {
		t.Errorf("exit %d stderr %q", res.code, res.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed -png left a file behind: %v", err)
	}
	// Without -png the same run reports as queued.
	res = execCaravan(t, []string{"NOMAD_ADDR=" + srv.URL()}, "", "report", "q-1")
	if res.code != ExitOK || !strings.Contains(res.stdout, "QUEUED: Nomad has not placed the run yet") {
		t.Errorf("exit %d stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
}
