package autoscale

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// The regression tests of the autoscaler's two promises: nothing that runs
// is ever killed by a scale-in, and no machine is paid for that caravan
// has forgotten. Each drives the loop against the in-memory Nomad and
// Terraform of memnomad_test.go and memprov_test.go.

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time          { return c.t }
func (c *manualClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newSafetyLoop(t *testing.T, nc *memNomad, prov *memProv, clk *manualClock) *Loop {
	t.Helper()
	policy := decide.IdleTimeoutPolicy()
	l, err := NewLoop(Config{
		Pools: mapPool(fixturePool(2)), Provisioners: map[string]Provisioner{"gpu": prov}, Nomad: nc,
		SyncApply: true, Policy: &policy, BackoffMin: time.Minute, Now: clk.Now, Holder: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func safetyClock() *manualClock {
	return &manualClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func stepOK(t *testing.T, l *Loop) {
	t.Helper()
	if err := l.Step(context.Background(), time.Now()); err != nil {
		t.Fatalf("step: %v", err)
	}
}

func loadRecord(t *testing.T, nc *memNomad) PoolRecord {
	t.Helper()
	r, ok, err := LoadPoolRecord(context.Background(), nc, "", "gpu")
	if err != nil || !ok {
		t.Fatalf("pool record: ok=%v err=%v", ok, err)
	}
	return r
}

func putRecord(t *testing.T, nc *memNomad, r PoolRecord) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.PutVariable(context.Background(), "", PoolRecordPrefix+r.Pool, map[string]string{recordItem: string(b)}, -1); err != nil {
		t.Fatal(err)
	}
}

// TestBootClockOfAnUnknownNameStartsOnce: a name in Terraform state that
// the record does not know (the record was lost, or its write failed
// before the apply) and that never registers is paid for; its boot clock
// must start once, when caravan first sees it, so that boot_timeout
// replaces it, instead of restarting at every observation.
func TestBootClockOfAnUnknownNameStartsOnce(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv("gpu-7"), safetyClock()
	l := newSafetyLoop(t, nc, prov, clk)
	for range 24 * 12 { // 24 simulated hours, a decision every 5 minutes
		stepOK(t, l)
		if !prov.has("gpu-7") {
			break
		}
		clk.Advance(5 * time.Minute)
	}
	if prov.has("gpu-7") {
		t.Fatalf("gpu-7 never registered, yet after 24 hours it is still booting in Terraform state (boot_timeout 15m)")
	}
	if took := clk.Now().Sub(safetyClock().Now()); took > 20*time.Minute {
		t.Errorf("replaced only after %s; boot_timeout is 15m", took)
	}
	// And the time it was first seen survives a restart: a new process
	// on the same record replaces it at the same time.
	nc2, prov2, clk2 := newMemNomad(), newMemProv("gpu-7"), safetyClock()
	first := newSafetyLoop(t, nc2, prov2, clk2)
	stepOK(t, first)
	clk2.Advance(10 * time.Minute)
	second := newSafetyLoop(t, nc2, prov2, clk2)
	stepOK(t, second)
	clk2.Advance(6 * time.Minute)
	stepOK(t, second)
	if prov2.has("gpu-7") {
		t.Errorf("after a restart the boot clock started again: gpu-7 is still booting 16 minutes after it was first seen")
	}
}

// TestFailedIntentWriteBlocksApply: the names an apply asks for are
// written to the pool record first; when that write fails, Terraform
// must not run, or a crash would leave machines nobody remembers.
func TestFailedIntentWriteBlocksApply(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv(), safetyClock()
	nc.submit("train-1", "gpu", 1, 1)
	nc.before = func(call string) error {
		if call == "put "+PoolRecordPrefix+"gpu" {
			return errors.New("write variable: 500 raft apply failed")
		}
		return nil
	}
	l := newSafetyLoop(t, nc, prov, clk)
	_ = l.Step(context.Background(), time.Now())
	if prov.applies != 0 {
		t.Fatalf("Terraform ran although the pool record (the names asked for) could not be written")
	}
	nc.before = nil
	clk.Advance(time.Minute)
	stepOK(t, l)
	if got, _ := prov.Nodes(context.Background()); len(got) != 1 {
		t.Fatalf("once the record is writable the apply goes ahead: state %v", got)
	}
	if r := loadRecord(t, nc); len(r.Requested) != 1 {
		t.Errorf("record does not hold the name asked for: %+v", r.Requested)
	}
}

// TestMisplacedNodeIsNeverDropped: a machine caravan created that
// registers in another node pool (the module's node_pool is wrong) runs
// that pool's work; it is reported and kept, never replaced as a machine
// that failed to boot.
func TestMisplacedNodeIsNeverDropped(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv(), safetyClock()
	nc.submit("train-1", "gpu", 1, 1)
	nc.submit("other-1", "default", 1, 1)
	prov.created = func(name string) { nc.addNode(name, "default", 2) }
	l := newSafetyLoop(t, nc, prov, clk)
	stepOK(t, l)
	got, _ := prov.Nodes(context.Background())
	if len(got) != 1 {
		t.Fatalf("state %v", got)
	}
	name := got[0]
	if nc.activeAllocs(name) != 1 {
		t.Fatalf("the misplaced node runs no work of its node pool; the test proves nothing")
	}
	for range 12 { // an hour, well past boot_timeout
		clk.Advance(5 * time.Minute)
		stepOK(t, l)
		if !prov.has(name) {
			t.Fatalf("%s, which registered in node pool default and runs an allocation there, was taken out of Terraform state", name)
		}
	}
	r := loadRecord(t, nc)
	if len(r.Misplaced) != 1 || r.Misplaced[0].Name != name || r.Misplaced[0].NodePool != "default" {
		t.Errorf("record does not report the misplaced node: %+v", r.Misplaced)
	}
	if v := testutil.ToFloat64(l.met.misplaced.WithLabelValues("gpu")); v != 1 {
		t.Errorf("caravan_autoscaler_misplaced_nodes = %v, want 1", v)
	}
}

// TestRemovingMarkRecheckedBeforeApply: a node marked Removing by a
// removal whose apply failed, which an operator then re-enabled and which
// took work, stays in Terraform's target; and a node that takes work
// between the observation and the apply is kept too (its allocations are
// read again just before any apply that drops it).
func TestRemovingMarkRecheckedBeforeApply(t *testing.T) {
	t.Run("re-enabled after a failed removal", func(t *testing.T) {
		nc, prov, clk := newMemNomad(), newMemProv("gpu-1"), safetyClock()
		nc.addNode("gpu-1", "gpu", 2)
		putRecord(t, nc, PoolRecord{Pool: "gpu", InState: []string{"gpu-1"},
			History: decide.History{Removing: map[string]time.Time{"gpu-1": clk.Now().Add(-time.Minute)}}})
		// The operator re-enabled it and work landed.
		nc.submit("train-1", "gpu", 1, 1)
		if nc.activeAllocs("gpu-1") != 1 {
			t.Fatal("setup: no work on gpu-1")
		}
		l := newSafetyLoop(t, nc, prov, clk)
		stepOK(t, l)
		if !prov.has("gpu-1") {
			t.Fatalf("gpu-1 runs an allocation, yet the retried removal took it out of Terraform state")
		}
	})
	t.Run("work lands after the observation", func(t *testing.T) {
		nc, prov, clk := newMemNomad(), newMemProv("gpu-1"), safetyClock()
		nc.addNode("gpu-1", "gpu", 2)
		nc.setNode("gpu-1", func(n *memNode) { n.eligible = false })
		putRecord(t, nc, PoolRecord{Pool: "gpu", InState: []string{"gpu-1"},
			History: decide.History{Removing: map[string]time.Time{"gpu-1": clk.Now().Add(-time.Minute)}}})
		landed := false
		nc.before = func(call string) error {
			// Observe reads nodes, their allocations, then jobs: by the
			// job list, the operator has re-enabled gpu-1 and work runs
			// there.
			if call == "jobs" && !landed {
				landed = true
				nc.setNode("gpu-1", func(n *memNode) { n.eligible = true })
				nc.submit("train-1", "gpu", 1, 1)
			}
			return nil
		}
		l := newSafetyLoop(t, nc, prov, clk)
		_ = l.Step(context.Background(), time.Now())
		if nc.activeAllocs("gpu-1") != 1 {
			t.Fatal("setup: no work on gpu-1")
		}
		if !prov.has("gpu-1") {
			t.Fatalf("gpu-1 took work after the observation, yet the apply dropped it without reading its allocations again")
		}
	})
}

// TestPendingCreateKeepsItsName: while a failed apply backs off, the
// decisions that follow keep the names already proposed instead of
// inventing a new one each time.
func TestPendingCreateKeepsItsName(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv(), safetyClock()
	failing := true
	prov.fail = func(string) bool { return failing }
	nc.submit("train-1", "gpu", 1, 1)
	l := newSafetyLoop(t, nc, prov, clk)
	_ = l.Step(context.Background(), time.Now()) // gpu-1 fails; backoff 1m
	// A run that needs a whole machine arrives during the backoff.
	nc.submit("train-2", "gpu", 2, 1)
	var targets [][]string
	for range 5 {
		clk.Advance(5 * time.Second)
		_ = l.Step(context.Background(), time.Now())
		targets = append(targets, l.pools["gpu"].last.Target)
	}
	for _, tg := range targets[1:] {
		if !slices.Equal(tg, targets[0]) {
			t.Fatalf("decisions during the backoff proposed new names each time: %v", targets)
		}
	}
	failing = false
	clk.Advance(time.Minute)
	stepOK(t, l)
	got, _ := prov.Nodes(context.Background())
	if !slices.Equal(got, targets[0]) {
		t.Errorf("after the backoff the state holds %v, not the names proposed during it (%v)", got, targets[0])
	}
}

// TestDrainMarkSurvivesALostRecordWrite: the lock is lost (or the record
// write fails) right after caravan drained an idle node: the next leader
// must still know the drain is caravan's, or it takes the node for an
// operator's cordon and keeps it, paid for, for ever.
func TestDrainMarkSurvivesALostRecordWrite(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv("gpu-1"), safetyClock()
	nc.addNode("gpu-1", "gpu", 2)
	putRecord(t, nc, PoolRecord{Pool: "gpu", InState: []string{"gpu-1"}, Seen: map[string]time.Time{"gpu-1": clk.Now().Add(-time.Hour)}})
	drained := false
	nc.before = func(call string) error {
		if call == "drain gpu-1" {
			drained = true
		}
		if drained && strings.HasPrefix(call, "put ") {
			return errors.New("write variable: connection refused")
		}
		return nil
	}
	first := newSafetyLoop(t, nc, prov, clk)
	_ = first.Step(context.Background(), time.Now())
	if !drained {
		t.Fatal("gpu-1, idle for an hour, was not drained; the test proves nothing")
	}
	nc.before = nil
	second := newSafetyLoop(t, nc, prov, clk) // the next leader
	for range 6 {
		clk.Advance(time.Minute)
		stepOK(t, second)
	}
	if prov.has("gpu-1") {
		t.Fatalf("gpu-1, drained by caravan, is kept for ever by the next leader: the drain mark was lost with the record write")
	}
}

// TestFrozenLeaderSendsNoNodeOperation: Nomad's node operations cannot
// carry a fencing token. A leader that has not confirmed its lock for half
// a TTL (a paused VM, a long GC: the standby may be about to take over)
// sends none, however its decision came about.
func TestFrozenLeaderSendsNoNodeOperation(t *testing.T) {
	nc, prov, clk := newMemNomad(), newMemProv("gpu-1"), safetyClock()
	nc.addNode("gpu-1", "gpu", 2)
	putRecord(t, nc, PoolRecord{Pool: "gpu", InState: []string{"gpu-1"}, Seen: map[string]time.Time{"gpu-1": clk.Now().Add(-time.Hour)}})
	var ops []string
	nc.before = func(call string) error {
		if strings.HasPrefix(call, "drain ") || strings.HasPrefix(call, "eligibility ") {
			ops = append(ops, call)
		}
		return nil
	}
	policy := decide.IdleTimeoutPolicy()
	l, err := NewLoop(Config{Pools: mapPool(fixturePool(2)), Provisioners: map[string]Provisioner{"gpu": prov}, Nomad: nc,
		Leader: fakeLeader{&leaseState{}, "a"}, LeaderPoll: time.Second, SyncApply: true, Policy: &policy, Now: clk.Now, Holder: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l.tickLease(ctx)
	tm := l.current()
	if tm == nil {
		t.Fatal("the loop did not take the free lock")
	}
	tm.confirmed = time.Now().Add(-time.Minute) // it froze since its last renewal
	err = l.Step(ctx, time.Now())
	if len(ops) > 0 {
		t.Fatalf("a leader whose lock was last confirmed a minute ago sent %v", ops)
	}
	if !errors.Is(err, errNotLeading) {
		t.Errorf("step: %v, want the drain refused as not leading", err)
	}
	// Once the lock is confirmed again, the idle node is drained.
	l.tickLease(ctx)
	clk.Advance(time.Minute)
	stepOK(t, l)
	if len(ops) == 0 {
		t.Errorf("the idle node was never drained after the lock was confirmed")
	}
}
