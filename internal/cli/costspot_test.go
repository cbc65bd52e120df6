package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// A spot pool's GPU time is priced at its fallback's price per GPU to
// show the saving; on-demand pools are not listed.
func TestSpotSavings(t *testing.T) {
	cat := &spec.Catalog{Pools: map[string]*spec.Pool{
		"a100":      {Name: "a100", GPUsPerNode: 8, PricePerHour: 32},
		"a100-spot": {Name: "a100-spot", GPUsPerNode: 8, PricePerHour: 12, Spot: true, SpotFallback: "a100"},
		"lone-spot": {Name: "lone-spot", GPUsPerNode: 8, PricePerHour: 12, Spot: true},
	}}
	pools := []query.PoolCost{
		{Pool: "a100", GPUSeconds: 8 * 3600, Dollars: 32},
		{Pool: "a100-spot", GPUSeconds: 16 * 3600, Dollars: 24},
		{Pool: "lone-spot", GPUSeconds: 8 * 3600, Dollars: 12},
	}
	got := spotSavings(pools, cat)
	if len(got) != 2 || got[0].Pool != "a100-spot" || got[0].OnDemandDollars != 64 || got[0].SavingDollars != 40 || got[1].OnDemandPool != "" {
		t.Errorf("spot savings %+v; want a100-spot $24 against $64 on a100, lone-spot unpriced", got)
	}
	var b bytes.Buffer
	writeSpotCost(&b, costReport{Spot: got, Preempted: &preemptionCost{Preemptions: 2, GPUSeconds: 3600, Unpriced: 1}})
	for _, want := range []string{"saved $40.00", "no priced spot_fallback", "2 runs moved, 1.00 GPU-hours lost", "1 moves not priced"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

// A preemption's cost is the old allocation's GPUs from the notice until
// it stopped and the replacement's until it started; moves by others and
// outside the window do not count.
func TestPreemptionLoss(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	moves := []record.Move{
		{At: t0, By: record.MovedByPreemption, Running: true, FromAlloc: "a1", GPUs: 2},
		{At: t0.Add(-48 * time.Hour), By: record.MovedByPreemption, Running: true, FromAlloc: "a0", GPUs: 2},
		{At: t0.Add(time.Hour), By: record.MovedByAutoscaler, Running: true, FromAlloc: "a2", GPUs: 2},
	}
	stubs := []*api.AllocationListStub{
		{ID: "a1", CreateTime: t0.Add(-time.Hour).UnixNano(), TaskStates: map[string]*api.TaskState{"main": {StartedAt: t0.Add(-time.Hour), FinishedAt: t0.Add(time.Minute)}}},
		{ID: "a2", CreateTime: t0.Add(10 * time.Second).UnixNano(), TaskStates: map[string]*api.TaskState{"main": {StartedAt: t0.Add(2 * time.Minute)}}},
	}
	ref := record.Ref{RunID: "r1"}
	got := preemptionLoss(map[record.Ref][]record.Move{ref: moves}, map[record.Ref][]record.AllocTimes{ref: allocTimesOf(stubs, moves)}, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	// 2 GPUs × (60 s checkpointing + 110 s waiting to start).
	if got.Preemptions != 1 || got.GPUSeconds != 2*170 || got.Unpriced != 0 {
		t.Errorf("preemption loss %+v, want 1 preemption costing 340 GPU-seconds", got)
	}
}
