package triage

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

const (
	run    = api.AllocDesiredStatusRun
	stop   = api.AllocDesiredStatusStop
	failed = api.AllocClientStatusFailed
	done   = api.AllocClientStatusComplete
)

// findingKinds lists the kinds of r's secondary findings.
func findingKinds(r Report) []string {
	var k []string
	for _, f := range r.Findings {
		k = append(k, f.Kind)
	}
	return k
}

func finding(r Report, kind string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].Kind == kind {
			return &r.Findings[i]
		}
	}
	return nil
}

func TestTriageFixtureFailsExit3(t *testing.T) {
	a := fixtureAlloc(t)
	stderr := string(readFixture(t, "get-client-fs-logs-stderr-plain.txt"))
	rec := &record.Run{RunID: "crashy-1", Experiment: "crashy", Pool: "gpu", Namespace: "default", GPUs: 1}

	r := Triage(Input{RunID: "crashy-1", Record: rec, Allocs: []*api.Allocation{a}, Stderr: stderr, StderrAlloc: a.ID})
	if r.Outcome != OutcomeFailed || r.ExitCode == nil || *r.ExitCode != 3 {
		t.Fatalf("outcome %s exit %v, want failed with exit code 3", r.Outcome, r.ExitCode)
	}
	if r.Reason.Kind != KindCUDAOOM {
		t.Fatalf("reason %q (%s), want %q", r.Reason.Kind, r.Reason.Summary, KindCUDAOOM)
	}
	if want := "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"; !slices.Contains(r.Reason.Evidence, want) {
		t.Errorf("evidence %q lacks the stderr line %q", r.Reason.Evidence, want)
	}
	if r.Alloc.Task != "train" || r.Alloc.Node != "gpu-node-1" || r.JobID != "fails-exit3" || r.GPUs != 1 {
		t.Errorf("alloc %+v job %q gpus %d", r.Alloc, r.JobID, r.GPUs)
	}
	// The task ran from 23:13:44.008398614 to 23:13:44.014704643.
	if want := 0.006306029; math.Abs(r.RuntimeS-want) > 1e-6 {
		t.Errorf("runtime %vs, want %vs", r.RuntimeS, want)
	}

	// Without its stderr the same events only say "exit code 3".
	r = Triage(Input{RunID: "crashy-1", Record: rec, Allocs: []*api.Allocation{a}})
	if r.Reason.Kind != KindUserError || !slices.Contains(r.Reason.Evidence, "Terminated: Exit Code: 3") {
		t.Errorf("without stderr: reason %q evidence %q, want user-error quoting the Terminated event", r.Reason.Kind, r.Reason.Evidence)
	}
}

func TestTriage(t *testing.T) {
	sixH := 6 * time.Hour
	healthy := func() *record.Usage {
		return usage(360, sixH, constant(0.85), constant(60*gib), constant(6*gib))
	}
	tests := []struct {
		name     string
		in       Input
		outcome  string
		kind     string
		exit     int // -1: no exit code
		findings []string
		check    func(t *testing.T, r Report)
	}{
		{name: "success", outcome: OutcomeComplete, kind: KindSuccess, exit: 0,
			in: Input{Record: testRecord(), Usage: healthy(),
				Allocs: []*api.Allocation{alloc("a1", 10, done, run, sixH, 4, terminated(sixH, 0, false))}},
			check: func(t *testing.T, r Report) {
				if math.Abs(r.GPUHours-24) > 1e-9 || r.Cost == nil || math.Abs(*r.Cost-60) > 1e-9 || r.PricePerGPUHour != 2.5 {
					t.Errorf("GPU-hours %v cost %v at %v, want 24 GPU-hours costing 60 at 2.5", r.GPUHours, r.Cost, r.PricePerGPUHour)
				}
				if r.Util == nil || r.Util.Low || math.Abs(r.Util.UsedGPUHours-24*0.85) > 1e-9 {
					t.Errorf("util %+v", r.Util)
				}
				if len(r.StderrTail) != 0 {
					t.Errorf("a successful run quotes stderr: %q", r.StderrTail)
				}
			}},
		{name: "OOM killed by Nomad", outcome: OutcomeFailed, kind: KindOOMKilled, exit: 137,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 137, true))}},
			check: func(t *testing.T, r Report) {
				if !slices.Contains(r.Reason.Evidence, `Terminated: Exit Code: 137, Exit Message: "OOM Killed"`) {
					t.Errorf("evidence %q", r.Reason.Evidence)
				}
			}},
		{name: "exit 137 with RSS at its limit is an OOM kill", outcome: OutcomeFailed, kind: KindOOMKilled, exit: 137,
			in: Input{Record: testRecord(), Usage: usage(100, time.Hour, constant(0.9), constant(20*gib), func(_ int, t float64) float64 { return gib + 15*gib*t/3600 }),
				Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 137, false))}},
			findings: []string{KindLeak},
			check: func(t *testing.T, r Report) {
				if f := finding(r, KindLeak); f == nil || !strings.Contains(f.Advice, "leak") {
					t.Errorf("leak finding %+v should blame a leak for the OOM kill", f)
				}
			}},
		{name: "exit 137 with room to spare is the program's", outcome: OutcomeFailed, kind: KindUserError, exit: 137,
			in: Input{Record: testRecord(), Usage: healthy(),
				Allocs: []*api.Allocation{alloc("a1", 10, failed, run, sixH, 4, terminated(sixH, 137, false))}}},
		{name: "CUDA OOM in stderr", outcome: OutcomeFailed, kind: KindCUDAOOM, exit: 1,
			in: Input{Record: testRecord(), Stderr: "Traceback (most recent call last):\n  File \"train.py\", line 9\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.11 GiB\n",
				Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 1, false))}},
			check: func(t *testing.T, r Report) {
				if len(r.StderrTail) != 3 || !strings.HasPrefix(r.StderrTail[0], "Traceback") {
					t.Errorf("stderr tail %q", r.StderrTail)
				}
			}},
		{name: "XID 79 from the agent", outcome: OutcomeFailed, kind: KindXID, exit: 1,
			in: Input{Record: testRecord(),
				Usage: func() *record.Usage {
					u := healthy()
					u.XIDs = []record.XID{{Time: t0.Add(time.Hour), UUID: "GPU-aaaa", Code: 79}, {Time: t0.Add(time.Hour), UUID: "GPU-aaaa", Code: 79}}
					return u
				}(),
				Stderr: "RuntimeError: CUDA error: unspecified launch failure\n",
				Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 1, false))}},
			check: func(t *testing.T, r Report) {
				s := r.Reason.Summary
				if !strings.Contains(s, "XID 79") || !strings.Contains(s, "fallen off the bus") || !strings.Contains(s, "GPU-aaaa") || !strings.Contains(s, "2 times") {
					t.Errorf("summary %q", s)
				}
				if !strings.Contains(r.Reason.Advice, "gpu-node-1") {
					t.Errorf("advice %q should name the node for the admins", r.Reason.Advice)
				}
			}},
		{name: "XID 31 in stderr points at the program", outcome: OutcomeFailed, kind: KindXID, exit: 1,
			in: Input{Record: testRecord(), Stderr: "NVRM: Xid (PCI:0000:3b:00): 31, pid=4242, name=python, Ch 00000008, intr 10000000. MMU Fault\n",
				Allocs: []*api.Allocation{alloc("a1", 10, failed, run, time.Hour, 4, terminated(time.Hour, 1, false))}},
			check: func(t *testing.T, r Report) {
				if !strings.Contains(r.Reason.Summary, "XID 31") || !strings.Contains(r.Reason.Advice, "CUDA_LAUNCH_BLOCKING") {
					t.Errorf("reason %+v", r.Reason)
				}
			}},
		{name: "XID on a run that still succeeded", outcome: OutcomeComplete, kind: KindSuccess, exit: 0, findings: []string{KindXID},
			in: Input{Record: testRecord(),
				Usage:  func() *record.Usage { u := healthy(); u.XIDs = []record.XID{{UUID: "GPU-bbbb", Code: 63}}; return u }(),
				Allocs: []*api.Allocation{alloc("a1", 10, done, run, sixH, 4, terminated(sixH, 0, false))}}},
		{name: "lost node", outcome: OutcomeLost, kind: KindLost, exit: -1,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, api.AllocClientStatusLost, stop, 2*time.Hour, 4)
				a.ClientDescription, a.DesiredDescription = "alloc is lost since its node is down", "alloc is lost since its node is down"
				return a
			}()}},
			check: func(t *testing.T, r Report) {
				if !slices.Contains(r.Reason.Evidence, "alloc is lost since its node is down") {
					t.Errorf("evidence %q", r.Reason.Evidence)
				}
			}},
		{name: "evicted", outcome: OutcomeStopped, kind: KindEvicted, exit: 143,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, done, api.AllocDesiredStatusEvict, time.Hour, 4,
					ev(api.TaskKilling, time.Hour, "Sent interrupt. Waiting 5s before force killing", nil), terminated(time.Hour, 143, false),
					ev(api.TaskKilled, time.Hour, "Task successfully killed", nil))
				a.DesiredDescription = "Preempted by alloc ID 7d1c"
				return a
			}()}}},
		{name: "timeout", outcome: OutcomeStopped, kind: KindTimeout, exit: 143,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, done, stop, 8*time.Hour+time.Minute, 4,
				ev(api.TaskKilling, 8*time.Hour, "Sent interrupt. Waiting 5s before force killing", nil), terminated(8*time.Hour, 143, false),
				ev(api.TaskKilled, 8*time.Hour, "Task successfully killed", nil))}},
			check: func(t *testing.T, r Report) {
				if r.TimeoutS != 8*3600 || !slices.Contains(r.Reason.Evidence, "ran 8h 1m with a timeout of 8h") {
					t.Errorf("timeout %v evidence %q", r.TimeoutS, r.Reason.Evidence)
				}
			}},
		{name: "timeout by Nomad's max_run_duration", outcome: OutcomeStopped, kind: KindTimeout, exit: 137,
			in: Input{Record: &record.Run{RunID: "train-1a2b3c4d", GPUs: 4}, Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, done, stop, 2*time.Hour, 4,
					ev(api.TaskKilling, 2*time.Hour, "Sent interrupt. Waiting 5s before force killing", nil), terminated(2*time.Hour, 137, false),
					ev(api.TaskKilled, 2*time.Hour, "Task successfully killed", nil))
				name, limit := "run", 2*time.Hour
				a.Job = &api.Job{TaskGroups: []*api.TaskGroup{{Name: &name, MaxRunDuration: &limit}}}
				return a
			}()}},
			check: func(t *testing.T, r Report) {
				if r.TimeoutS != 7200 {
					t.Errorf("timeout %vs, want 7200 from max_run_duration", r.TimeoutS)
				}
			}},
		// What Nomad 2.0.5 records when it stops a run at its group's
		// max_run_duration: the allocation is complete, desired run.
		{name: "timeout as Nomad 2.0.5 ends it", outcome: OutcomeFailed, kind: KindTimeout, exit: 137,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, done, run, 12*time.Hour+5*time.Second, 4,
					ev(api.TaskKilling, 12*time.Hour, "allocation exceeded max_run_duration", map[string]string{"kill_timeout": "5s"}),
					terminated(12*time.Hour+5*time.Second, 137, false),
					ev(api.TaskKilled, 12*time.Hour+5*time.Second, "Task successfully killed", nil))
				a.ClientDescription = "allocation exceeded max_run_duration"
				name, limit := "run", 12*time.Hour
				a.Job = &api.Job{Meta: map[string]string{"caravan_timeout": "12h0m0s"}, TaskGroups: []*api.TaskGroup{{Name: &name, MaxRunDuration: &limit}}}
				return a
			}()}},
			check: func(t *testing.T, r Report) {
				if r.Reason.Summary != "timeout after 12h" || !slices.Contains(r.Reason.Evidence, "Nomad: allocation exceeded max_run_duration") {
					t.Errorf("summary %q evidence %q", r.Reason.Summary, r.Reason.Evidence)
				}
			}},
		{name: "source commit not in the repository", outcome: OutcomeFailed, kind: KindSourceNotFound, exit: -1,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, failed, run, 0, 4,
					ev(api.TaskDownloadingArtifacts, 0, "Client is downloading artifacts", nil),
					ev(api.TaskArtifactDownloadFailed, 0, `failed to download artifact "git::http://127.0.0.1:8000/repo.git": getter subprocess failed: exit status 1: failed to download artifact: error downloading 'http://127.0.0.1:8000/repo.git?ref=deadbee': invalid ref: "deadbee"`, nil),
					ev(api.TaskNotRestarting, 0, "Policy allows no restarts", nil))
				a.TaskStates["train"].Events = slices.DeleteFunc(a.TaskStates["train"].Events, func(e *api.TaskEvent) bool { return e.Type == api.TaskStarted })
				a.Job = &api.Job{Meta: map[string]string{"caravan_source_git": "http://127.0.0.1:8000/repo.git", "caravan_source_commit": "deadbee"}}
				return a
			}()}},
			check: func(t *testing.T, r Report) {
				if r.Reason.Summary != "source commit not found: deadbee is not in http://127.0.0.1:8000/repo.git" {
					t.Errorf("summary %q", r.Reason.Summary)
				}
			}},
		{name: "unreachable repository is a setup error", outcome: OutcomeFailed, kind: KindSetup, exit: -1,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, failed, run, 0, 4,
				ev(api.TaskArtifactDownloadFailed, 0, `failed to download artifact "git::https://git.example/repo.git": fatal: unable to access 'https://git.example/repo.git/': Could not resolve host: git.example`, nil))}}},
		{name: "stopped early by someone", outcome: OutcomeStopped, kind: KindStopped, exit: 0,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, done, stop, time.Hour, 4,
					ev(api.TaskKilling, time.Hour, "Sent interrupt. Waiting 5s before force killing", nil), terminated(time.Hour, 0, false),
					ev(api.TaskKilled, time.Hour, "Task successfully killed", nil))
				a.DesiredDescription = "alloc not needed due to job update"
				return a
			}()}}},
		{name: "driver failure", outcome: OutcomeFailed, kind: KindSetup, exit: -1,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, failed, run, 0, 4, ev(api.TaskDriverFailure, 0, `failed to launch command with executor: exec: "python": executable file not found in $PATH`, nil))
				return a
			}()}}},
		{name: "still running past its timeout", outcome: OutcomeRunning, kind: KindRunning, exit: -1, findings: []string{KindTimeout},
			in: Input{Record: testRecord(), Usage: healthy(), Now: t0.Add(9 * time.Hour),
				Allocs: []*api.Allocation{alloc("a1", 10, api.AllocClientStatusRunning, run, -1, 4)}},
			check: func(t *testing.T, r Report) {
				if math.Abs(r.GPUHours-36) > 1e-9 || r.FinishedAt != nil {
					t.Errorf("GPU-hours %v (want 36: 4 GPUs for 9h so far), finished %v", r.GPUHours, r.FinishedAt)
				}
			}},
		{name: "placed, not started", outcome: OutcomeStarting, kind: KindStarting, exit: -1,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{func() *api.Allocation {
				a := alloc("a1", 10, api.AllocClientStatusPending, run, -1, 4)
				a.TaskStates["train"] = &api.TaskState{State: "pending", Events: []*api.TaskEvent{ev(api.TaskReceived, 0, "Task received by client", nil),
					ev("Downloading Artifacts", time.Second, "Client is downloading artifacts", nil)}}
				return a
			}()}},
			check: func(t *testing.T, r Report) {
				if r.GPUHours != 0 || r.StartedAt != nil || len(r.Reason.Evidence) != 2 || len(r.Warnings) != 0 {
					t.Errorf("GPU-hours %v started %v evidence %q warnings %q", r.GPUHours, r.StartedAt, r.Reason.Evidence, r.Warnings)
				}
			}},
		{name: "queued", outcome: OutcomeQueued, kind: KindQueued, exit: -1,
			in: Input{Record: testRecord()},
			check: func(t *testing.T, r Report) {
				if r.GPUs != 4 || r.GPUHours != 0 {
					t.Errorf("gpus %d hours %v", r.GPUs, r.GPUHours)
				}
			}},
		{name: "rescheduled after a lost node, then succeeded", outcome: OutcomeComplete, kind: KindSuccess, exit: 0, findings: []string{KindAttempt},
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{
				alloc("b2", 20, done, run, sixH, 4, terminated(sixH, 0, false)),
				alloc("a1", 10, api.AllocClientStatusLost, stop, 3*time.Hour, 4),
			}},
			check: func(t *testing.T, r Report) {
				if r.Attempts != 2 || r.Alloc.ID != "b2" || math.Abs(r.GPUHours-36) > 1e-9 {
					t.Errorf("attempts %d alloc %s GPU-hours %v, want 2, b2, 36", r.Attempts, r.Alloc.ID, r.GPUHours)
				}
				if f := finding(r, KindAttempt); f == nil || !strings.HasPrefix(f.Summary, "attempt 1 (alloc a1): node gpu-node-1") {
					t.Errorf("attempt finding %+v", f)
				}
			}},
		{name: "low GPU utilisation", outcome: OutcomeComplete, kind: KindSuccess, exit: 0, findings: []string{KindLowUtil},
			in: Input{Record: testRecord(), Usage: usage(360, sixH, constant(0.1), constant(60*gib), constant(6*gib)),
				Allocs: []*api.Allocation{alloc("a1", 10, done, run, sixH, 4, terminated(sixH, 0, false))}},
			check: func(t *testing.T, r Report) {
				want := "this run paid for 24.0 GPU-hours and used 2.4 (mean GPU utilisation 10%)"
				if f := finding(r, KindLowUtil); f == nil || f.Summary != want {
					t.Errorf("finding %+v, want %q", f, want)
				}
			}},
		{name: "no usage summary", outcome: OutcomeComplete, kind: KindSuccess, exit: 0,
			in: Input{Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, done, run, sixH, 4, terminated(sixH, 0, false))}},
			check: func(t *testing.T, r Report) {
				if r.Util != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "caravan agent") {
					t.Errorf("util %+v warnings %q", r.Util, r.Warnings)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Triage(tt.in)
			if r.Outcome != tt.outcome || r.Reason.Kind != tt.kind {
				t.Fatalf("outcome %q reason %q (%s), want %q and %q", r.Outcome, r.Reason.Kind, r.Reason.Summary, tt.outcome, tt.kind)
			}
			switch {
			case tt.exit < 0 && r.ExitCode != nil:
				t.Errorf("exit code %d, want none", *r.ExitCode)
			case tt.exit >= 0 && (r.ExitCode == nil || *r.ExitCode != tt.exit):
				t.Errorf("exit code %v, want %d", r.ExitCode, tt.exit)
			}
			for _, k := range tt.findings {
				if finding(r, k) == nil {
					t.Errorf("findings %q lack %q", findingKinds(r), k)
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestCUDAOOMPhrases(t *testing.T) {
	for _, line := range []string{
		"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
		"RuntimeError: CUDA error: out of memory",
		"RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
		"torch.cuda.OutOfMemoryError: CUDA out of memory.",
		"jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17179869184 bytes.",
		"tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[4096,4096]",
		"cudaErrorMemoryAllocation: out of memory",
	} {
		if got := cudaOOM.lines("noise\n"+line+"\nmore noise", 3); len(got) != 1 || got[0] != line {
			t.Errorf("%q: matched %q", line, got)
		}
	}
	for _, line := range []string{"MemoryError", "loss 0.31 memory 12GiB", "Killed"} {
		if got := cudaOOM.lines(line, 3); len(got) != 0 {
			t.Errorf("%q wrongly matched as CUDA OOM", line)
		}
	}
}

func TestMainTaskSkipsLifecycleHooks(t *testing.T) {
	a := alloc("a1", 1, api.AllocClientStatusRunning, run, -1, 1)
	a.TaskStates["fetch-data"] = &api.TaskState{State: "dead", FinishedAt: t0}
	name := "run"
	a.Job.TaskGroups = []*api.TaskGroup{{Name: &name, Tasks: []*api.Task{
		{Name: "fetch-data", Lifecycle: &api.TaskLifecycle{Hook: "prestart"}},
		{Name: "train"},
	}}}
	if got := MainTask(a); got != "train" {
		t.Errorf("MainTask = %q, want train (fetch-data is a prestart hook)", got)
	}
}

func BenchmarkTriage(b *testing.B) {
	u := usage(512, 6*time.Hour, constant(0.2), func(_ int, t float64) float64 { return 20*gib + gib*t/3600 },
		func(_ int, t float64) float64 { return 4*gib + 256*mibf*t/3600 })
	u.XIDs = []record.XID{{UUID: "GPU-a", Code: 79}}
	stderr := strings.Repeat("step 100 loss 0.1234 lr 3e-4\n", 2000) + "RuntimeError: CUDA error: out of memory\n"
	in := Input{Record: testRecord(), Usage: u, Stderr: stderr,
		Allocs: []*api.Allocation{alloc("a1", 10, failed, run, 6*time.Hour, 4, terminated(6*time.Hour, 1, false))}}
	b.ReportAllocs()
	for b.Loop() {
		Triage(in)
	}
}
