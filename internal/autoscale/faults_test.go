package autoscale_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// TestApplyFailureRetries: a failing terraform apply is retried after a
// backoff, the reason is recorded and logged, and the retry succeeds once
// the cause is gone.
func TestApplyFailureRetries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	failFile := filepath.Join(dir, "fail")
	if err := os.WriteFile(failFile, []byte("InsufficientInstanceCapacity in us-east-1a"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, filepath.Join(dir, "state"), nil, map[string]string{"fail_file": failFile})
	h.submit(t, 1, "train-1")
	h.step(t)
	rec := h.record(t)
	if !strings.Contains(rec.Terraform.LastError, "InsufficientInstanceCapacity") || rec.Terraform.Failures != 1 {
		t.Fatalf("record does not say why the apply failed: %+v", rec.Terraform)
	}
	if !rec.Terraform.NextRetryAt.Equal(h.clk.Now().Add(time.Minute)) {
		t.Errorf("next retry at %v, want now + BackoffMin (1m)", rec.Terraform.NextRetryAt)
	}
	if !strings.Contains(h.logs.String(), "terraform apply failed; retrying") {
		t.Errorf("failure not logged")
	}
	want := rec.Requested
	if len(want) != 1 {
		t.Fatalf("requested names: %v", want)
	}

	// Within the backoff nothing is retried.
	h.clk.Advance(30 * time.Second)
	h.step(t)
	if got := metricValue(t, h.reg, "caravan_autoscaler_terraform_failures_total", map[string]string{"pool": "gpu"}); got != 1 {
		t.Fatalf("retried inside the backoff: %v failures", got)
	}
	// Still failing after the backoff: the wait doubles.
	h.clk.Advance(31 * time.Second)
	h.step(t)
	rec = h.record(t)
	if rec.Terraform.Failures != 2 || !rec.Terraform.NextRetryAt.Equal(h.clk.Now().Add(2*time.Minute)) {
		t.Fatalf("second failure: %+v (now %v)", rec.Terraform, h.clk.Now())
	}

	// The cause goes away: the retry creates the same name, once.
	os.Remove(failFile)
	h.clk.Advance(2 * time.Minute)
	h.step(t)
	got := h.inState(t)
	if len(got) != 1 {
		t.Fatalf("after recovery: state %v", got)
	}
	if _, ok := want[got[0]]; !ok {
		t.Errorf("recovery created %v, not the name asked for first (%v)", got, want)
	}
	if rec := h.record(t); rec.Terraform.LastError != "" || rec.Terraform.Failures != 0 {
		t.Errorf("terraform status not cleared: %+v", rec.Terraform)
	}
}

// TestNomadUnreachableNoScaleIn: with Nomad unreachable, an idle node that
// is due for scale-in is left alone; nothing is decided on stale data.
func TestNomadUnreachableNoScaleIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, t.TempDir(), nil, nil)
	ctx := context.Background()
	h.submit(t, 1, "train-1")
	h.step(t)
	name := h.inState(t)[0]
	nodeID := h.srv.AddNode(nomadtest.NodeSpec{Name: name, Pool: "gpu", GPUs: 2})
	h.step(t)
	h.srv.CompleteAlloc(h.srv.Allocs("default", "train-1")[0].ID)
	h.step(t)

	// Nomad stops answering; the idle timeout passes meanwhile.
	h.srv.FailNext(1000, "/v1/", 503, "No cluster leader")
	h.clk.Advance(20 * time.Minute)
	for i := 0; i < 3; i++ {
		if err := h.loop.Step(ctx, time.Now()); err == nil || !strings.Contains(err.Error(), "no scale-in on stale data") {
			t.Fatalf("step with Nomad failing: err = %v", err)
		}
		h.clk.Advance(time.Minute)
	}
	if got := metricValue(t, h.reg, "caravan_autoscaler_observe_failures_total", nil); got != 3 {
		t.Errorf("observe failures = %v, want 3", got)
	}
	h.srv.ClearFaults()
	if n := h.inState(t); len(n) != 1 {
		t.Fatalf("node removed while Nomad was unreachable: %v", n)
	}
	node, err := h.nc.Node(ctx, nodeID)
	if err != nil {
		t.Fatal(err)
	}
	if node.Drain || node.SchedulingEligibility != api.NodeSchedulingEligible {
		t.Fatalf("node touched while Nomad was unreachable: drain=%v eligibility=%s", node.Drain, node.SchedulingEligibility)
	}
	// Once Nomad answers again, the idle node is scaled in as usual.
	h.step(t)
	if n, _ := h.nc.Node(ctx, nodeID); !n.Drain && n.SchedulingEligibility != api.NodeSchedulingIneligible {
		t.Errorf("idle node not scaled in after Nomad came back")
	}
}

// TestKilledMidApplyResumes: the autoscaler is stopped in the middle of a
// slow apply; a fresh process on the same state dir and Nomad resumes with
// the names the first one asked for, creating no extra machine.
func TestKilledMidApplyResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	slow := newHarness(t, dir, nil, map[string]string{"create_delay_seconds": "3"})
	ctx := context.Background()
	slow.submit(t, 2, "train-1", "train-2", "train-3")
	cut, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_ = slow.loop.Step(cut, time.Now()) // interrupted mid-apply
	rec := slow.record(t)
	if len(rec.Requested) != 3 {
		t.Fatalf("intent not recorded before the apply: %+v", rec.Requested)
	}
	asked := rec.Requested
	if n := slow.inState(t); len(n) == 3 && rec.Terraform.LastApply.After(time.Time{}) {
		t.Fatalf("the apply was not interrupted (state %v): the test proves nothing", n)
	}

	// The restarted process: same state dir, same Nomad, new memory.
	fresh := newHarness(t, dir, slow.srv, nil)
	fresh.clk.t = slow.clk.Now().Add(time.Minute)
	fresh.step(t)
	got := fresh.inState(t)
	if len(got) != 3 {
		t.Fatalf("after resume: state %v, want the 3 names asked for", got)
	}
	for _, n := range got {
		if _, ok := asked[n]; !ok {
			t.Errorf("resume created %s, which the first process never asked for (asked %v): a duplicate machine", n, asked)
		}
	}
	// And one more decision changes nothing.
	fresh.clk.Advance(time.Minute)
	fresh.step(t)
	if again := fresh.inState(t); len(again) != 3 {
		t.Errorf("second decision after resume changed the state: %v", again)
	}
}

// TestBootTimeoutReplaces: a machine that never registers in Nomad within
// boot_timeout is removed from the state and replaced under a new name,
// and counted as failed and replaced.
func TestBootTimeoutReplaces(t *testing.T) {
	t.Parallel()
	h := newHarness(t, t.TempDir(), nil, nil)
	h.submit(t, 1, "train-1")
	h.step(t)
	first := h.inState(t)
	if len(first) != 1 {
		t.Fatalf("state %v", first)
	}
	h.clk.Advance(16 * time.Minute) // boot_timeout is 15m; it never registered
	h.step(t)
	got := h.inState(t)
	if len(got) != 1 || got[0] == first[0] {
		t.Fatalf("after boot_timeout: state %v, want one new name instead of %v", got, first)
	}
	if v := metricValue(t, h.reg, "caravan_autoscaler_machines_failed_total", map[string]string{"pool": "gpu"}); v != 1 {
		t.Errorf("machines_failed_total = %v", v)
	}
	if v := metricValue(t, h.reg, "caravan_autoscaler_machines_replaced_total", map[string]string{"pool": "gpu"}); v != 1 {
		t.Errorf("machines_replaced_total = %v", v)
	}
}

// TestTaintedMachineThatRunsIsKept: a creation that failed after the
// machine started leaves it tainted in Terraform's state; once it has
// registered and taken work, the retried apply must keep it, not replace
// (destroy and create again) it.
func TestTaintedMachineThatRunsIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	failFile, logFile := filepath.Join(dir, "fail"), filepath.Join(dir, "log")
	if err := os.WriteFile(failFile, []byte("cloud-init timed out"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, filepath.Join(dir, "state"), nil, map[string]string{"fail_file": failFile, "log_file": logFile})
	h.submit(t, 1, "train-1")
	h.step(t)
	got := h.inState(t)
	if len(got) != 1 || h.record(t).Terraform.Failures != 1 {
		t.Fatalf("the creation did not fail half way: state %v", got)
	}
	name := got[0]
	// The machine boots regardless, registers and takes the run.
	h.srv.AddNode(nomadtest.NodeSpec{Name: name, Pool: "gpu", GPUs: 2})
	if len(h.srv.Allocs("default", "train-1")) != 1 {
		t.Fatal("the run was not placed on the machine")
	}
	os.Remove(failFile)
	h.clk.Advance(2 * time.Minute) // past the retry's backoff
	h.step(t)
	h.clk.Advance(time.Minute)
	h.step(t)
	b, _ := os.ReadFile(logFile)
	if n := strings.Count(string(b), "create "+name); n != 1 {
		t.Fatalf("%s, registered and running a run, was created %d times (log %q): the retry replaced it", name, n, b)
	}
	if got := h.inState(t); len(got) != 1 || got[0] != name {
		t.Errorf("state %v, want [%s]", got, name)
	}
}
