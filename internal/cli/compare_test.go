package cli

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

// putMetrics writes a usage summary holding a loss series for run id, as
// the agent would.
func putMetrics(t *testing.T, env []string, id string, losses ...float64) {
	t.Helper()
	cl, err := nomad.New(nomad.Config{Getenv: envLookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	m := record.Metric{Name: "loss", Count: len(losses)}
	for i, v := range losses {
		p := record.MetricPoint{Step: float64(10 * (i + 1)), Value: v}
		m.Step, m.T, m.Value = append(m.Step, p.Step), append(m.T, float64(i)), append(m.Value, v)
		if i == 0 || v < m.Min.Value {
			m.Min = p
		}
		if i == 0 || v > m.Max.Value {
			m.Max = p
		}
		m.Last = p
	}
	u := &record.Usage{RunID: id, Project: testProject, Metrics: []record.Metric{m}}
	if err := cl.PutUsage(context.Background(), "default", u); err != nil {
		t.Fatal(err)
	}
}

// TestCompareSweep: compare -experiment sets the runs of a sweep side by
// side with the swept param, each metric's last and best values, and
// names the run with the lowest loss; -json and -png say the same.
func TestCompareSweep(t *testing.T) {
	_, env, ids := appliedCluster(t)
	lr := map[string]string{}
	for _, r := range lsRows(t, env) {
		for _, p := range r.Params {
			if p.Name == "lr" {
				lr[r.ID] = p.Value
			}
		}
	}
	putMetrics(t, env, ids[0], 2, 1.0, 1.2)
	putMetrics(t, env, ids[1], 2, 0.5, 0.3)
	r := execCaravan(t, env, "", "compare", "-experiment", "train")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Same in every run: seed=1", "lr", "loss LAST", "loss BEST (min)",
		"Best run: "+ids[1]+", lowest loss 0.3 at step 30", ids[1]+" *", "0.3 @30", "1 @20")
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[3], ids[1]) || !strings.Contains(lines[3], lr[ids[1]]) {
		t.Errorf("the best run is not listed first with its lr:\n%s", r.stdout)
	}

	r = execCaravan(t, env, "", "compare", ids[0], ids[1], "-best", "loss=max", "-json")
	mustCode(t, r, ExitOK)
	var c report.Comparison
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatal(err)
	}
	if c.Best == nil || c.Best.Run != ids[0] || c.Best.Value != 2 || len(c.Runs) != 2 || c.Varying[0] != "lr" {
		t.Errorf("-best loss=max -json: %+v", c)
	}

	file := filepath.Join(t.TempDir(), "loss.png")
	r = execCaravan(t, env, "", "compare", "-experiment", "train", "-png", file)
	mustCode(t, r, ExitOK)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("-png: %v", err)
	}

	r = execCaravan(t, env, "", "compare", "-experiment", "train", "-metric", "acc")
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, `no run among these wrote metric "acc"; they wrote: loss`)
	mustCode(t, execCaravan(t, env, "", "compare", "nope-00000000"), ExitError)
	mustCode(t, execCaravan(t, env, "", "compare"), ExitUsage)
}

// TestLsSortByMetricAndWidth: ls reads the runs' metrics for -sort and
// -columns, and fits COLUMNS rather than 80.
func TestLsSortByMetricAndWidth(t *testing.T) {
	_, env, ids := appliedCluster(t)
	putMetrics(t, env, ids[0], 2, 1.0, 1.2)
	putMetrics(t, env, ids[1], 2, 0.5, 0.3)
	r := execCaravan(t, env, "", "ls", "-sort", "loss", "-columns", "id,loss,lr")
	mustCode(t, r, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], ids[1]) || !strings.HasPrefix(lines[2], ids[0]) || !strings.Contains(lines[3], " -") {
		t.Errorf("ls -sort loss:\n%s", r.stdout)
	}
	mustContain(t, lines[1], "0.3")
	wide := append(env, "COLUMNS=200")
	r = execCaravan(t, wide, "", "ls", "-columns", "id,state,pool,gpus,priority,age,runtime,submitted,project,namespace,params")
	mustCode(t, r, ExitOK)
	if l := strings.Split(r.stdout, "\n")[1]; len(l) <= 80 || !strings.Contains(l, "seed=1") {
		t.Errorf("COLUMNS=200 still fits 80 columns: %q", l)
	}
	mustCode(t, execCaravan(t, env, "", "ls", "-columns", "id,,state"), ExitUsage)
	mustCode(t, execCaravan(t, env, "", "ls", "-best", "loss=up"), ExitUsage)
}
