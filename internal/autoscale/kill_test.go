package autoscale_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// TestHelperAutoscaler is not a test: TestSIGKILLMidApply runs the test
// binary as a child process that executes it, to be killed with SIGKILL.
func TestHelperAutoscaler(t *testing.T) {
	addr, dir := os.Getenv("CARAVAN_HELPER_NOMAD"), os.Getenv("CARAVAN_HELPER_STATE")
	if addr == "" || dir == "" {
		t.Skip("helper process for TestSIGKILLMidApply")
	}
	nc, err := nomad.New(nomad.Config{Address: addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := terraform.New(terraform.Options{Pool: "gpu", Module: "../../terraform/test-pool", StateDir: dir,
		Vars: ctyVars(map[string]string{"create_delay_seconds": "8"})})
	if err != nil {
		t.Fatal(err)
	}
	policy := decide.IdleTimeoutPolicy()
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{"gpu": gpuPool()}, Provisioners: map[string]autoscale.Provisioner{"gpu": ws},
		Nomad: nc, SyncApply: true, Policy: &policy, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("helper: stepping")
	_ = l.Step(context.Background(), time.Now()) // killed in here
}

// TestSIGKILLMidApply kills an autoscaler process with SIGKILL while
// Terraform creates its machines (Terraform dies with it), then starts a
// fresh one on the same state dir and Nomad: it resumes under the names
// the dead process asked for, and the state lock it held is free.
func TestSIGKILLMidApply(t *testing.T) {
	t.Parallel()
	needTerraform(t)
	dir := t.TempDir()
	h := newHarness(t, dir, nil, nil)
	h.submit(t, 2, "train-1", "train-2")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAutoscaler$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CARAVAN_HELPER_NOMAD="+h.srv.URL(), "CARAVAN_HELPER_STATE="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child's Terraform holds the state lock: the apply is
	// under way.
	lockInfo := filepath.Join(dir, "gpu", ".terraform.tfstate.lock.info")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(lockInfo); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the helper never started applying")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	rec := h.record(t)
	if len(rec.Requested) != 2 {
		t.Fatalf("the killed process recorded %v as asked for; want 2 names", rec.Requested)
	}
	h.step(t) // the fresh process (no create delay)
	got := h.inState(t)
	if len(got) != 2 {
		t.Fatalf("after resume: state %v, want the 2 names asked for", got)
	}
	for _, n := range got {
		if _, ok := rec.Requested[n]; !ok {
			t.Errorf("resume created %s, not asked for by the killed process (%v): a duplicate machine", n, rec.Requested)
		}
	}
}
