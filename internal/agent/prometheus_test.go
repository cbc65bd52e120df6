//go:build cgo && linux

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/gpu/nvmlmock"
)

// tool finds an external binary; without it the test is skipped, except
// in CI (CI=true), where a missing tool is a failure: .ci/run installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found on PATH, and CI=true: .ci/run should have installed it", name)
		}
		t.Skipf("%s not installed (apt-get install --no-install-recommends prometheus)", name)
	}
	return p
}

// startAgent serves the agent over the mock NVML on a free loopback port.
func startAgent(t *testing.T) (addr string, tn *testNode) {
	t.Helper()
	tn = newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := Handler(agentRegistry(t, NewCollector(tn.agent)), tn.agent.cfg.Logger)
	go func() { done <- Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent shutdown: %v", err)
		}
	})
	return ln.Addr().String(), tn
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPrometheusScrapesAgent runs a real Prometheus against the agent and
// queries it for a GPU utilisation series carrying the agreed labels.
func TestPrometheusScrapesAgent(t *testing.T) {
	bin := tool(t, "prometheus")
	agentAddr, _ := startAgent(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: caravan-agent\n    static_configs:\n      - targets: [%q]\n", agentAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()

	q := `caravan_run_gpu_utilization_ratio{job="caravan-agent",run="resnet50-1a2b3c4d"}`
	var last string
	for ctx.Err() == nil {
		got, err := promQuery(ctx, promAddr, q)
		if err == nil && len(got) == 1 {
			m := got[0].Metric
			want := map[string]string{"node": "gpu-node-1", "pool": "a100", "gpu": "0", "uuid": nvmlmock.UUID(0),
				"model": "NVIDIA H100 80GB HBM3", "experiment": "resnet50", "alloc": allocA}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("label %s = %q, want %q (series %v)", k, m[k], v, m)
				}
			}
			if got[0].Value[1] != "0.05" {
				t.Errorf("value = %v, want 0.05", got[0].Value[1])
			}
			return
		}
		last = fmt.Sprint(got, err)
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("Prometheus never returned %s; last answer %s\nprometheus log:\n%s", q, last, logs.String())
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func promQuery(ctx context.Context, addr, q string) ([]promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", body.Error)
	}
	return body.Data.Result, nil
}

// TestPromtoolCheckMetrics lints the agent's full exposition (Go and
// process collectors included) with promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	bin := tool(t, "promtool")
	addr, _ := startAgent(t)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = resp.Body
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
