package nomad_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestFullestUsageFits: the largest summary the agent writes (every
// timeline series full, the most metrics a run may have, each full, all of
// incompressible noise) is written, its series halved until it fits, and
// each metric keeps its exact last, lowest and highest values.
func TestFullestUsageFits(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	x := uint64(7)
	next := func() float64 { x = x*6364136223846793005 + 1442695040888963407; return float64(x>>11) / (1 << 53) }
	u := &record.Usage{RunID: "full-1", Project: "p", Sources: map[string]string{record.FigureRSS: record.SourceCgroup}}
	for i := range record.MaxTimelinePoints {
		tl := &u.Timeline
		tl.T = append(tl.T, float64(i)*5.123)
		tl.GPUUtil, tl.GPUMem = append(tl.GPUUtil, next()), append(tl.GPUMem, next()*8e10)
		tl.RSS, tl.CPU = append(tl.RSS, next()*1e11), append(tl.CPU, next()*96)
		tl.NetRx, tl.NetTx = append(tl.NetRx, next()*1e9), append(tl.NetTx, next()*1e9)
	}
	for m := range record.MaxMetrics {
		me := record.Metric{Name: fmt.Sprintf("metric_%02d", m), Count: 100000,
			Last: record.MetricPoint{Step: 99999, Value: 0.25}, Min: record.MetricPoint{Step: 7, Value: 0.125}, Max: record.MetricPoint{Value: 9}}
		for i := range record.MaxMetricPoints {
			me.Step, me.T, me.Value = append(me.Step, float64(i)*781.25), append(me.T, float64(i)*13.7), append(me.Value, next())
		}
		u.Metrics = append(u.Metrics, me)
	}
	if err := c.PutUsage(ctx, "", u); err != nil {
		t.Fatal(err)
	}
	back, err := c.Usage(ctx, record.Ref{Project: "p", RunID: "full-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Metrics) != record.MaxMetrics || len(back.Timeline.T) == 0 || len(back.Metrics[0].Step) == 0 {
		t.Fatalf("read back %d metrics, %d timeline points, %d metric points", len(back.Metrics), len(back.Timeline.T), len(back.Metrics[0].Step))
	}
	m := back.Metrics[31]
	if m.Last.Value != 0.25 || m.Min != (record.MetricPoint{Step: 7, Value: 0.125}) || m.Max.Value != 9 || m.Count != 100000 {
		t.Errorf("exact values lost in halving: %+v", m)
	}
	t.Logf("kept %d timeline points and %d points per metric", len(back.Timeline.T), len(m.Step))
}
