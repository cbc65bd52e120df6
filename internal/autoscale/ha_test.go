package autoscale_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
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
