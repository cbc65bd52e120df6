package record

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestSeriesWritesGapsAsNull(t *testing.T) {
	u := Usage{RunID: "r", Sources: map[string]string{FigureRSS: SourceCgroup},
		Timeline: Timeline{T: []float64{0, 5, 10}, RSS: Series{1 << 20, math.NaN(), 3e-7}}}
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"rss_bytes":[1048576,null,3e-7]`) {
		t.Errorf("JSON %s: want the gap as null", b)
	}
	for _, absent := range []string{`"gpu_util"`, `"cpu_cores"`, `"net_rx`} {
		if strings.Contains(string(b), absent) {
			t.Errorf("JSON %s has %s, a series without any sample", b, absent)
		}
	}
	var back Usage
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	rss := back.Timeline.RSS
	if len(rss) != 3 || rss[0] != 1<<20 || !math.IsNaN(rss[1]) || rss[2] != 3e-7 {
		t.Errorf("read back %v", rss)
	}
	if back.Has(FigureGPUUtil) || !back.Has(FigureRSS) {
		t.Errorf("sources read back as %v", back.Sources)
	}
}

// TestOldUsageDecodes: a summary written before gaps and sources existed
// reads as it always did, every figure taken as measured.
func TestOldUsageDecodes(t *testing.T) {
	old := `{"run_id":"r","alloc_id":"a","node":"n","start":"2026-11-25T22:00:00Z","end":"2026-11-25T22:01:00Z",
	"final":true,"samples":13,"interval_s":5,"gpus":1,"gpu_util_mean":0.5,"gpu_util_peak":0.9,
	"gpu_mem_peak_bytes":1,"gpu_mem_total_bytes":2,"rss_peak_bytes":3,"mem_limit_bytes":4,
	"timeline":{"t":[0,5],"gpu_util":[0.5,0.6],"gpu_mem_bytes":[1,1],"rss_bytes":[3,3],"cpu_cores":[1,1]}}`
	var u Usage
	if err := json.Unmarshal([]byte(old), &u); err != nil {
		t.Fatal(err)
	}
	if u.Sources != nil || !u.Has(FigureGPUUtil) || !u.Has(FigureNet) {
		t.Errorf("an old summary must have every figure: sources %v", u.Sources)
	}
	if len(u.Timeline.GPUUtil) != 2 || u.Timeline.GPUUtil[1] != 0.6 || u.Timeline.CPU[0] != 1 {
		t.Errorf("timeline %+v", u.Timeline)
	}
	var none *Usage
	if none.Has(FigureRSS) {
		t.Error("no summary has no figure")
	}
}

func TestHalve(t *testing.T) {
	u := Usage{Timeline: Timeline{T: []float64{0, 1, 2, 3, 4}, RSS: Series{0, 1, 2, 3, 4}},
		Metrics: []Metric{{Name: "loss", Step: []float64{1, 2, 3}, T: []float64{0, 1, 2}, Value: Series{3, 2, 1}, Last: MetricPoint{3, 1}}}}
	orig := u.Timeline.RSS
	if !u.Halve() {
		t.Fatal("halving 5 points: false")
	}
	if got := u.Timeline.RSS; len(got) != 3 || got[1] != 2 || got[2] != 4 {
		t.Errorf("RSS halved to %v", got)
	}
	if m := u.Metrics[0]; len(m.Step) != 2 || m.Step[1] != 3 || m.Value[1] != 1 || m.Last.Value != 1 {
		t.Errorf("metric halved to %+v", m)
	}
	if len(orig) != 5 || orig[1] != 1 {
		t.Errorf("halving changed the caller's series: %v", orig)
	}
	for u.Halve() {
	}
	if len(u.Timeline.T) != 1 || len(u.Metrics[0].Step) != 1 {
		t.Errorf("halved to the end: %d points, metric %d", len(u.Timeline.T), len(u.Metrics[0].Step))
	}
}
