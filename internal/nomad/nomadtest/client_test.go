package nomadtest

import (
	"context"
	"testing"
	"time"
)

func TestDriveMovesAllocationsAsScripted(t *testing.T) {
	s := New(t)
	s.AddNode(NodeSpec{Name: "g", Pool: "gpu", GPUs: 2})
	if err := s.Seed(BatchJobs(3, "gpu", 1)...); err != nil {
		t.Fatal(err)
	}
	sc := ClientScript{Stdout: "step 1\n", Stderr: "warn\n", End: func(jobID string) (TaskExit, bool) {
		switch jobID {
		case "bench-000000":
			return TaskExit{Code: 3}, false
		case "bench-000001":
			return TaskExit{}, true
		}
		return TaskExit{}, false
	}}
	status := func(job string) string {
		a := s.Allocs("default", job)
		if len(a) == 0 {
			return "none"
		}
		return a[len(a)-1].ClientStatus
	}
	// Two GPUs for three one-GPU jobs: the third waits for the first to
	// end, and every allocation shows as running for a tick before its end.
	steps := [][3]string{
		{"pending", "pending", "none"},
		{"running", "running", "none"},
		{"failed", "running", "pending"},
		{"failed", "running", "running"},
		{"failed", "running", "complete"},
	}
	for i, want := range steps {
		if i > 0 {
			s.driveOnce(sc)
		}
		got := [3]string{status("bench-000000"), status("bench-000001"), status("bench-000002")}
		if got != want {
			t.Fatalf("after %d ticks: %v, want %v", i, got, want)
		}
	}
	id := s.Allocs("default", "bench-000002")[0].ID
	s.mu.Lock()
	a := s.allocs[id]
	out, errs := string(a.Logs[logKey("train", false)]), string(a.Logs[logKey("train", true)])
	s.mu.Unlock()
	if out != "step 1\n" || errs != "warn\n" {
		t.Fatalf("logs: stdout %q stderr %q", out, errs)
	}
}

func TestDriveStopsWithItsContext(t *testing.T) {
	s := New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Drive(ctx, time.Millisecond, ClientScript{}); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Drive still running after its context was cancelled")
	}
}
