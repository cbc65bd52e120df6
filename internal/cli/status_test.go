package cli

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// shape decodes one of the Nomad 2.0.5 recordings kept next to the fake.
func shape(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("../nomad/nomadtest/shapes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestPoolStatusesFromRecordedAnswers feeds status the recorded cluster:
// gpu-fits runs on gpu-node-1 (1 of its 2 GPUs), gpu-too-big (3 GPUs)
// waits with a blocked evaluation saying "missing devices".
func TestPoolStatusesFromRecordedAnswers(t *testing.T) {
	var nodes []*api.NodeListStub
	var evals []*api.Evaluation
	var allocs []*api.AllocationListStub
	shape(t, "get-nodes-resources.json", &nodes)
	shape(t, "get-evaluations.json", &evals)
	shape(t, "get-job-gpu-fits-allocations.json", &allocs)
	var blocked []*api.Evaluation
	for _, e := range evals {
		if e.Status == "blocked" {
			blocked = append(blocked, e)
		}
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	view := &query.Runs{
		Rows: []query.Run{
			{ID: "gpu-fits", Pool: "gpu", GPUs: 1, State: record.StateRunning, Submitted: now.Add(-time.Hour)},
			{ID: "gpu-too-big", Pool: "gpu", GPUs: 3, State: record.StateQueued, Submitted: now.Add(-90 * time.Minute)},
		},
		Allocs: allocs,
	}
	pools := poolStatuses(view, nodes, blocked, now)
	if len(pools) != 2 || pools[0].NodePool != "default" || pools[1].NodePool != "gpu" {
		t.Fatalf("pools: %+v", pools)
	}
	g := pools[1]
	want := poolStatus{NodePool: "gpu", Pools: []string{"gpu"}, Queued: 1, QueuedGPUs: 3, Running: 1, RunningGPUs: 1,
		NodesReady: 1, GPUsTotal: 2, GPUsFree: 1, OldestID: "gpu-too-big", OldestWait: 90 * time.Minute,
		WaitReasons: map[string]int{"missing devices": 1}}
	g.caravanPools = nil
	if js, wjs := mustJSON(t, g), mustJSON(t, want); js != wjs {
		t.Errorf("gpu pool:\n got %s\nwant %s", js, wjs)
	}
	if d := pools[0]; d.NodesReady != 1 || d.GPUsTotal != 0 || d.Queued != 0 {
		t.Errorf("default pool: %+v", d)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWaitReasons(t *testing.T) {
	tests := []struct {
		m    api.AllocationMetric
		want []string
	}{
		{api.AllocationMetric{NodePool: "a100"}, []string{"no nodes in pool a100"}},
		{api.AllocationMetric{NodesInPool: 2, NodesEvaluated: 2, ConstraintFiltered: map[string]int{"missing devices": 2}}, []string{"missing devices"}},
		{api.AllocationMetric{NodesInPool: 1, NodesEvaluated: 1, DimensionExhausted: map[string]int{"devices: no devices match request": 1}}, []string{"every matching GPU is busy (`caravan queue` says until when)"}},
		{api.AllocationMetric{NodesInPool: 1, NodesEvaluated: 1, QuotaExhausted: []string{"gpu quota"}}, []string{"quota exhausted: gpu quota"}},
		{api.AllocationMetric{NodesInPool: 3, NodesEvaluated: 3}, []string{"3 nodes evaluated, none fit"}},
	}
	for _, tt := range tests {
		got := waitReasons(&tt.m)
		if mustJSON(t, got) != mustJSON(t, tt.want) {
			t.Errorf("waitReasons(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}
