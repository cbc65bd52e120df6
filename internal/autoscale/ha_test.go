package autoscale_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// crashingLease is a nomad.Lease whose Release does nothing, as when the
// process holding it is killed.
type crashingLease struct{ *nomad.Lease }

func (crashingLease) Release(context.Context) error { return nil }

// TestLeaderTakeover runs two autoscalers against one Nomad: only the lock
// holder acts (writes the pool record); when it dies without releasing the
// lock, the other takes over once the lease expires.
func TestLeaderTakeover(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 300 * time.Millisecond
	start := func(holder string, lease autoscale.Leader) (context.CancelFunc, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		l, err := autoscale.NewLoop(autoscale.Config{
			Pools:        map[string]*spec.Pool{"gpu": gpuPool()},
			Provisioners: map[string]autoscale.Provisioner{"gpu": &memProvisioner{}},
			Nomad:        nc,
			Leader:       lease,
			LeaderPoll:   50 * time.Millisecond,
			Resync:       100 * time.Millisecond,
			Logger:       slog.New(slog.DiscardHandler),
			Metrics:      autoscale.NewMetrics(reg),
			Holder:       holder,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = l.Run(ctx) }()
		return func() { cancel(); <-done }, reg
	}
	stopA, regA := start("a", crashingLease{nc.NewLease("", autoscale.LeaseVariable, "a", ttl)})
	waitFor(t, "a holds the lock", func() bool { return metricValue(t, regA, "caravan_autoscaler_leader", nil) == 1 })
	stopB, regB := start("b", nc.NewLease("", autoscale.LeaseVariable, "b", ttl))
	defer stopB()
	waitFor(t, "a writes the pool record", func() bool {
		r, ok, _ := autoscale.LoadPoolRecord(context.Background(), nc, "", "gpu")
		return ok && r.Holder == "a"
	})
	// While a lives, b stands by through several of its lock polls.
	for i := 0; i < 5; i++ {
		time.Sleep(60 * time.Millisecond)
		if metricValue(t, regB, "caravan_autoscaler_leader", nil) != 0 {
			t.Fatal("b acts while a holds the lock")
		}
	}
	stopA() // killed: the lock is not released
	waitFor(t, "b takes over", func() bool { return metricValue(t, regB, "caravan_autoscaler_leader", nil) == 1 })
	waitFor(t, "b writes the pool record", func() bool {
		r, ok, _ := autoscale.LoadPoolRecord(context.Background(), nc, "", "gpu")
		return ok && r.Holder == "b"
	})
}

// waitFor polls cond for up to 10 s; the bound is generous because the
// test asserts an outcome, not a latency.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutLease is a nomad.Lease that can be cut off from Nomad's servers: its
// renewals then fail while the rest of the process still reaches Nomad,
// as when the holder stalls (a long step, a paused VM) and the standby
// takes over.
type cutLease struct {
	*nomad.Lease
	cut *atomic.Bool
}

func (c cutLease) Renew(ctx context.Context) error {
	if c.cut.Load() {
		return errors.New("renew lease: dial tcp: i/o timeout")
	}
	return c.Lease.Renew(ctx)
}

func (c cutLease) TryAcquire(ctx context.Context) (bool, error) {
	if c.cut.Load() {
		return false, errors.New("read lease: dial tcp: i/o timeout")
	}
	return c.Lease.TryAcquire(ctx)
}

func (cutLease) Release(context.Context) error { return nil }

// gatedProvisioner is a memProvisioner whose first state read waits for
// gate (or for its context to end, which it reports on cancelled): a long
// step, like a slow terraform init or show in a new leader's first load.
type gatedProvisioner struct {
	memProvisioner
	entered   chan struct{}
	gate      chan struct{}
	cancelled chan struct{}
	first     atomic.Bool
}

func newGatedProvisioner() *gatedProvisioner {
	return &gatedProvisioner{entered: make(chan struct{}), gate: make(chan struct{}), cancelled: make(chan struct{})}
}

func (g *gatedProvisioner) State(ctx context.Context) (terraform.NodeState, error) {
	if g.first.CompareAndSwap(false, true) {
		close(g.entered)
		select {
		case <-g.gate:
		case <-ctx.Done():
			close(g.cancelled)
			return terraform.NodeState{}, ctx.Err()
		}
	}
	return g.memProvisioner.State(ctx)
}

// startLoop runs a loop on nc until the returned stop is called.
func startLoop(t *testing.T, nc *nomad.Client, holder string, lease autoscale.Leader, prov autoscale.Provisioner) (func(), *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools:        map[string]*spec.Pool{"gpu": gpuPool()},
		Provisioners: map[string]autoscale.Provisioner{"gpu": prov},
		Nomad:        nc,
		Leader:       lease,
		LeaderPoll:   50 * time.Millisecond,
		Resync:       100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
		Metrics:      autoscale.NewMetrics(reg),
		Holder:       holder,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop, reg
}

// TestLongStepKeepsTheLease: a step longer than the lease's TTL (here a
// first read of the Terraform state five TTLs long) does not let the
// standby take over: the lease is renewed while the step runs.
func TestLongStepKeepsTheLease(t *testing.T) {
	nc := haNomad(t)
	const ttl = 300 * time.Millisecond
	prov := newGatedProvisioner()
	_, regA := startLoop(t, nc, "a", nc.NewLease("", autoscale.LeaseVariable, "a", ttl), prov)
	<-prov.entered // a leads, and stays in its first step
	_, regB := startLoop(t, nc, "b", nc.NewLease("", autoscale.LeaseVariable, "b", ttl), &memProvisioner{})
	for range 30 { // 1.5 s, five TTLs
		time.Sleep(50 * time.Millisecond)
		if metricValue(t, regB, "caravan_autoscaler_leader", nil) != 0 {
			t.Fatalf("b took the lease while a, alive, was in a long step (a reports leader=%v)", metricValue(t, regA, "caravan_autoscaler_leader", nil))
		}
	}
	close(prov.gate)
}

// TestDisplacedLeaderStopsActing: when the leader cannot renew its lease
// in the middle of a long step, that step is aborted, and once the
// standby has taken over nothing the old leader still does reaches the
// pool record: the new leader's record, and the names it asked for, stay.
func TestDisplacedLeaderStopsActing(t *testing.T) {
	nc := haNomad(t)
	const ttl = 300 * time.Millisecond
	var cut atomic.Bool
	prov := newGatedProvisioner()
	_, regA := startLoop(t, nc, "a", cutLease{nc.NewLease("", autoscale.LeaseVariable, "a", ttl), &cut}, prov)
	<-prov.entered
	cut.Store(true)
	_, regB := startLoop(t, nc, "b", nc.NewLease("", autoscale.LeaseVariable, "b", ttl), &prov.memProvisioner)
	select {
	case <-prov.cancelled:
	case <-time.After(3 * time.Second):
		t.Errorf("a's step went on after a could no longer renew its lease")
	}
	waitFor(t, "b takes over and applies", func() bool {
		r := loadRecordOf(t, nc)
		return metricValue(t, regB, "caravan_autoscaler_leader", nil) == 1 && r.Holder == "b" && len(r.InState) == 1
	})
	asked := loadRecordOf(t, nc).InState
	// a's step, if it was not aborted, goes on now, on what it read
	// before b took over.
	close(prov.gate)
	time.Sleep(500 * time.Millisecond)
	if v := metricValue(t, regA, "caravan_autoscaler_leader", nil); v != 0 {
		t.Errorf("a still reports leader=%v after b took over", v)
	}
	r := loadRecordOf(t, nc)
	if r.Holder != "b" {
		t.Fatalf("the displaced leader overwrote the new leader's pool record (holder %q)", r.Holder)
	}
	if !slices.Equal(r.InState, asked) {
		t.Errorf("the record lost b's machines: %v, want %v", r.InState, asked)
	}
}

// haNomad is a fake Nomad with node pool gpu and one queued 1-GPU run.
func haNomad(t *testing.T) *nomad.Client {
	t.Helper()
	srv := nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.RegisterJob(context.Background(), gpuJob("train-1", 1), false, 0); err != nil {
		t.Fatal(err)
	}
	return nc
}

func loadRecordOf(t *testing.T, nc *nomad.Client) autoscale.PoolRecord {
	t.Helper()
	r, _, err := autoscale.LoadPoolRecord(context.Background(), nc, "", "gpu")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
