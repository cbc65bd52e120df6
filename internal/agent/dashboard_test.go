package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/autoscale"
)

// descRecorder is a Registerer that keeps the names of what is registered.
type descRecorder struct{ names map[string]bool }

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		r.names[descName(d)] = true
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func descName(d *prometheus.Desc) string {
	if m := fqName.FindStringSubmatch(d.String()); m != nil {
		return m[1]
	}
	return ""
}

// TestDashboardQueriesExportedMetrics parses the shipped Grafana dashboard
// and checks that every caravan_ metric its queries use is one the agent
// or the autoscaler exports, so a renamed metric cannot leave a panel empty.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/caravan.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string      `json:"title"`
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/caravan.json is not valid JSON: %v", err)
	}
	exported := &descRecorder{names: map[string]bool{}}
	exported.MustRegister(NewCollector(New(Config{})))
	agentNames := len(exported.names)
	autoscale.NewMetrics(exported)
	if agentNames < 20 || len(exported.names) <= agentNames {
		t.Fatalf("found %d agent and %d autoscaler metrics; the recorder is broken", agentNames, len(exported.names)-agentNames)
	}

	metric := regexp.MustCompile(`\bcaravan_[a-z0-9_]+`)
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metric.FindAllString(e, -1) {
			used[name] = true
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && exported.names[b] {
					base = b
				}
			}
			if !exported.names[base] {
				t.Errorf("dashboard query %q uses %s, which caravan does not export", e, name)
			}
		}
	}
	// The panels: GPU utilisation by pool and run, idle GPUs,
	// queue depth, spend.
	for _, must := range []string{"caravan_gpu_utilization_ratio", "caravan_run_gpu_utilization_ratio",
		"caravan_autoscaler_pending_requests", "caravan_pool_cost_dollars_total", "caravan_pool_idle_gpu_seconds_total"} {
		if !used[must] {
			t.Errorf("dashboard does not chart %s", must)
		}
	}
	if !slices.ContainsFunc(dash.Panels, func(p dashPanel) bool { return strings.Contains(strings.ToLower(p.Title), "idle") }) {
		t.Error("dashboard has no idle-GPU panel")
	}
	checkPromQL(t, exprs[:len(exprs)-len(dash.Templating.List)])
}

type dashPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// checkPromQL has promtool parse every query, as recording rules.
func checkPromQL(t *testing.T, exprs []string) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found on PATH, and CI=true: .ci/run should have installed it")
		}
		t.Log("promtool not installed: dashboard PromQL not parsed")
		return
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e) // a JSON string is a valid YAML scalar
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool rejects a dashboard query: %v\n%s", err, out)
	}
}
