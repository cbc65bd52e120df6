package agent

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestDashboardRunMetricsBesideGPUUse: the Run metrics row shows the
// metrics of the runs picked with $run (one metric at a time with
// $metric) beside the same runs' GPU utilisation, GPU memory and CPU, in
// panels side by side on the rows that follow it.
func TestDashboardRunMetricsBesideGPUUse(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/caravan.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string                   `json:"title"`
			Type    string                   `json:"type"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	if !vars["run"] || !vars["metric"] {
		t.Errorf("variables %v lack run or metric", vars)
	}
	row := -1
	for _, p := range dash.Panels {
		if p.Type == "row" && p.Title == "Run metrics" {
			row = p.GridPos.Y
		}
	}
	if row < 0 {
		t.Fatal("no Run metrics row")
	}
	want := map[string]string{
		"caravan_run_metric{":                `name=~"$metric"`,
		"caravan_run_gpu_utilization_ratio{": `run=~"$run"`,
		"caravan_run_gpu_memory_used_bytes{": `run=~"$run"`,
		"caravan_run_cpu_cores{":             `run=~"$run"`,
	}
	for _, p := range dash.Panels {
		if p.Type == "row" || p.GridPos.Y <= row || p.GridPos.Y > row+1+8 {
			continue
		}
		for _, tg := range p.Targets {
			for m, sel := range want {
				if strings.Contains(tg.Expr, m) && strings.Contains(tg.Expr, sel) && strings.Contains(tg.Expr, `run=~"$run"`) {
					delete(want, m)
				}
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("the Run metrics row lacks panels of the chosen runs for %v", want)
	}
}
