package autoscale_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
)

// TestMetricsLint scrapes the autoscaler's series after a few decisions
// and runs `promtool check metrics` on them (skipped without promtool;
// CI installs it).
func TestMetricsLint(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	srv := nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	srv.SetAutoRun(true)
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	prov := &memProvisioner{nodes: []string{"gpu-1"}}
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{"gpu": gpuPool()}, Provisioners: map[string]autoscale.Provisioner{"gpu": prov},
		Nomad: nc, SyncApply: true, Now: clk.Now, Logger: slog.New(slog.DiscardHandler), Metrics: autoscale.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddNode(nomadtest.NodeSpec{Name: "gpu-1", Pool: "gpu", GPUs: 2})
	ctx := context.Background()
	if _, err := nc.RegisterJob(ctx, gpuJob("train-1", 1), false, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := l.Step(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer hs.Close()
	resp, err := hs.Client().Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"caravan_autoscaler_decision_seconds_bucket", `caravan_autoscaler_nodes{pool="gpu",state="ready"} 1`,
		`caravan_pool_node_seconds_total{pool="gpu"} 120`, `caravan_pool_allocated_gpu_seconds_total{pool="gpu"} 120`,
		`caravan_run_allocated_gpu_seconds_total{pool="gpu",run="train-1"} 120`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
