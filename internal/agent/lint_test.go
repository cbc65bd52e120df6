package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caravan-ml/caravan/internal/record"
)

// TestRunSeriesAreLintClean scrapes a run with every figure the agent
// measures itself (cgroup v2, its own network, its metrics file) and lints
// the exposition: client_golang's linter always, promtool when installed.
func TestRunSeriesAreLintClean(t *testing.T) {
	n := newRawExecNode(t)
	cg := "nomad.slice/share.slice/" + allocA + ".train.scope/"
	files(t, n.cgroupFS, map[string]string{
		"cgroup.controllers": "cpu memory\n", cg + "memory.current": "1000\n", cg + "memory.peak": "2000\n",
		cg + "memory.stat": "anon 900\nfile 100\n", cg + "memory.events": "oom_kill 1\n", cg + "cpu.stat": "usage_usec 5\n", cg + "cgroup.procs": "4242\n",
	})
	n.process(t, 4242, 1, 1, "0::/nomad.slice/share.slice/"+allocA+".train.scope\n")
	for pid, ns := range map[string]string{"1": "net:[1]", "4242": "net:[2]"} {
		if err := os.MkdirAll(filepath.Join(n.proc, pid, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(ns, filepath.Join(n.proc, pid, "ns", "net")); err != nil {
			t.Fatal(err)
		}
	}
	files(t, n.proc, map[string]string{"4242/net/dev": "h\nh\n  eth0: 1 1 0 0 0 0 0 0 2 2 0 0 0 0 0 0\n"})
	n.agent.cfg.AllocDir = t.TempDir()
	files(t, filepath.Join(n.agent.cfg.AllocDir, allocA, "alloc"), map[string]string{record.MetricsFile: `{"step": 1, "loss": 0.5, "val/acc": 0.75}` + "\n"})
	c := NewCollector(n.agent)
	text := n.scrape(t)
	for _, want := range []string{"caravan_run_metric{", "caravan_run_oom_kills_total{", "caravan_run_network_receive_bytes_total{", "caravan_run_usage_source{"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the scrape lacks %s:\n%s", want, text)
		}
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: the exposition was linted by client_golang only")
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
