//go:build e2e

package autoscale_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The autoscaler's end-to-end tests on GPUs; their pool, processes and
// clean-up are in e2e_gpu_env_test.go.

// TestE2EScaleFromZeroOnGPURequest: a run asking for a
// GPU in a pool with no machine waits; the autoscaler, reading the
// operator's pools directory, adds one local client with simulated GPUs;
// the run completes on it; the idle client is drained and removed.
func TestE2EScaleFromZeroOnGPURequest(t *testing.T) {
	t.Parallel()
	e := newGPUEnv(t, 6*time.Minute, "")
	e.start()
	job := "caravan-e2e-gpu-" + e.pool
	e.submitGPURun(job)
	e.poll("the run waits, queued, with no machine in its node pool", time.Minute, func() bool {
		s, err := e.nc.JobSummary(e.ctx, "", job)
		return err == nil && s.Summary["run"].Queued == 1
	})
	if seen := e.nodesSeen(); len(seen) != 0 {
		t.Fatalf("the node pool had a machine before the run asked for one: %v", seen)
	}
	e.poll("the run completes on a new GPU client", 4*time.Minute, func() bool { return e.runCompleted(job) })
	e.poll("the idle client is drained and removed", 3*time.Minute, e.scaledToZero)
	if seen := e.nodesSeen(); len(seen) != 1 {
		t.Errorf("nodes of the pool: %v, want exactly one", seen)
	}
	allocs, err := e.nc.JobAllocations(e.ctx, "", job)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations: %v %v", allocs, err)
	}
	node, _, err := e.nc.API().Nodes().Info(allocs[0].NodeID, nil)
	if err != nil || node.LastDrain == nil || node.SchedulingEligibility != api.NodeSchedulingIneligible {
		t.Errorf("the client was not drained before its removal: %+v %v", node, err)
	}
}

// TestE2EClientExitingAtStartIsReplacedOnce: the first client's agent
// exits as it starts; the apply fails, and once its backoff is over the
// machine is created again under the same name, which starts. No name is
// proposed twice, and no process is left behind.
func TestE2EClientExitingAtStartIsReplacedOnce(t *testing.T) {
	t.Parallel()
	r := needGPURig(t)
	wrap := filepath.Join(t.TempDir(), "nomad-fails-once")
	count := wrap + ".starts"
	script := fmt.Sprintf("#!/bin/sh\n# The first start exits at once, as a client with a bad configuration does.\nn=$(cat %[1]q 2>/dev/null || echo 0)\nn=$((n+1))\necho $n >%[1]q\nif [ \"$1\" = agent ] && [ \"$n\" -eq 1 ]; then echo 'simulated failure at start' >&2; exit 1; fi\nexec %[2]q \"$@\"\n", count, r.nomadBin)
	if err := os.WriteFile(wrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newGPUEnv(t, 6*time.Minute, wrap)
	a := e.start()
	job := "caravan-e2e-gpu-" + e.pool
	e.submitGPURun(job)
	e.poll("the run completes once the client started", 4*time.Minute, func() bool { return e.runCompleted(job) })
	e.poll("the idle client is drained and removed", 3*time.Minute, e.scaledToZero)
	b, _ := os.ReadFile(count)
	if n := strings.TrimSpace(string(b)); n != "2" {
		t.Errorf("the client was started %s time(s), want 2: one failure, one replacement", n)
	}
	if !strings.Contains(a.logs(), "exited at start") {
		t.Errorf("the autoscaler's log does not say why the apply failed:\n%s", a.logs())
	}
	if seen := e.nodesSeen(); len(seen) != 1 || seen[0] != e.pool+"-1" {
		t.Errorf("nodes of the pool: %v, want only %s-1", seen, e.pool)
	}
	if l := a.logs(); strings.Contains(l, e.pool+"-2") {
		t.Errorf("a second machine name was proposed while the failed apply backed off:\n%s", l)
	}
}

// TestE2ETwoAutoscalersLeaderKilledMidApply: two `caravan autoscale` on
// the same pools; the leader is killed with SIGKILL while Terraform
// starts the client for a queued GPU run. The other takes over: the run
// is placed, exactly one machine is created, and after idle exactly one
// is removed.
func TestE2ETwoAutoscalersLeaderKilledMidApply(t *testing.T) {
	t.Parallel()
	r := needGPURig(t)
	// A client slow to start keeps the apply going long enough to kill
	// its autoscaler in the middle of it.
	slow := filepath.Join(t.TempDir(), "nomad-slow")
	if err := os.WriteFile(slow, []byte(fmt.Sprintf("#!/bin/sh\n[ \"$1\" = agent ] && sleep 4\nexec %q \"$@\"\n", r.nomadBin)), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newGPUEnv(t, 7*time.Minute, slow)
	procs := []*autoscaler{e.start(), e.start()}
	job := "caravan-e2e-gpu-" + e.pool
	e.submitGPURun(job)
	e.poll("Terraform starts a client", 2*time.Minute, func() bool {
		cfgs, _ := filepath.Glob(filepath.Join(e.clients, "*", "client.hcl"))
		return len(cfgs) > 0
	})
	holder := e.leaseHolder()
	var leader, other *autoscaler
	for _, p := range procs {
		if strings.Contains(holder, "/"+strconv.Itoa(p.cmd.Process.Pid)+"/") {
			leader = p
		} else {
			other = p
		}
	}
	if leader == nil {
		t.Fatalf("the lock holder %q is neither autoscaler\n%s", holder, e.describe())
	}
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.done
	e.poll("the other autoscaler takes over", time.Minute, func() bool {
		h := e.leaseHolder()
		return strings.Contains(h, "/"+strconv.Itoa(other.cmd.Process.Pid)+"/")
	})
	e.poll("the run completes", 4*time.Minute, func() bool { return e.runCompleted(job) })
	e.poll("the idle client is drained and removed", 3*time.Minute, e.scaledToZero)
	if seen := e.nodesSeen(); len(seen) != 1 {
		t.Errorf("nodes of the pool: %v, want exactly one machine", seen)
	}
	cfgs, _ := filepath.Glob(filepath.Join(e.clients, "*"))
	if len(cfgs) != 0 {
		t.Errorf("client directories left: %v", cfgs)
	}
	if l := other.logs(); strings.Contains(l, e.pool+"-2") {
		t.Errorf("the new leader created a second machine:\n%s", l)
	}
}
