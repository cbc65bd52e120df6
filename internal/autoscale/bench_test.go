package autoscale_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
)

// benchCluster is a fake Nomad with a full pool of 16 8-GPU nodes (one
// 8-GPU run each) and 200 queued 1-GPU runs.
func benchCluster(b *testing.B) (*nomadtest.Server, *nomad.Client, *memProvisioner, *spec.Pool) {
	b.Helper()
	srv := nomadtest.New(b)
	srv.AddNodePool("gpu", "")
	srv.SetAutoRun(true)
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	prov := &memProvisioner{}
	ctx := context.Background()
	for i := 0; i < 16; i++ {
		name := fmt.Sprintf("gpu-%d", i)
		prov.nodes = append(prov.nodes, name)
		srv.AddNode(nomadtest.NodeSpec{Name: name, Pool: "gpu", GPUs: 8, CPU: 96000, MemoryMB: 1 << 20})
		if _, err := nc.RegisterJob(ctx, gpuJob(fmt.Sprintf("big-%d", i), 8), false, 0); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		if _, err := nc.RegisterJob(ctx, gpuJob(fmt.Sprintf("q-%d", i), 1), false, 0); err != nil {
			b.Fatal(err)
		}
	}
	pool := gpuPool()
	pool.GPUsPerNode, pool.MaxNodes = 8, 64
	return srv, nc, prov, pool
}

// BenchmarkStep measures one observe+decide round (what each event or
// resync costs) against the fake Nomad over HTTP: 16 nodes, 16 running
// and 200 queued runs.
func BenchmarkStep(b *testing.B) {
	_, nc, prov, pool := benchCluster(b)
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{"gpu": pool}, Provisioners: map[string]autoscale.Provisioner{"gpu": prov},
		Nomad: nc, SyncApply: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Step(ctx, time.Now()); err != nil { // first: creates machines
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := l.Step(ctx, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventToDecision measures the time from a job registration in
// Nomad to the decision it triggers, through the real event stream of the
// fake, the 50 ms coalescing window included.
func BenchmarkEventToDecision(b *testing.B) {
	_, nc, prov, pool := benchCluster(b)
	reg := prometheus.NewRegistry()
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{"gpu": pool}, Provisioners: map[string]autoscale.Provisioner{"gpu": prov},
		Nomad: nc, Events: nc, Resync: time.Hour, Logger: slog.New(slog.DiscardHandler), Metrics: autoscale.NewMetrics(reg),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx) }()
	count := func() float64 { return histCount(b, reg) }
	for count() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the event subscription settle
	var total time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		before := count()
		start := time.Now()
		if _, err := nc.RegisterJob(ctx, gpuJob(fmt.Sprintf("ev-%d", i), 1), false, 0); err != nil {
			b.Fatal(err)
		}
		i++
		for count() == before {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(i), "ms/decision")
}

func histCount(tb testing.TB, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "caravan_autoscaler_decision_seconds" {
			return float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	return 0
}
