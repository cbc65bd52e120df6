package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestPoolsAndCostFromRuns: without an autoscaler, pools shows each node
// pool's GPUs and runs and the GPU time its runs held, and cost the GPU
// time of each run, from the runs themselves (both were empty before).
func TestPoolsAndCostFromRuns(t *testing.T) {
	srv, env := gitopsCluster(t)
	var mu sync.Mutex
	now := time.Now().Add(-time.Hour)
	srv.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.01", "0.001")})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	recordRuns(t, env)
	var placed []string
	for _, id := range srv.JobIDs("default") {
		if a := srv.Allocs("default", id); len(a) > 0 {
			srv.StartAlloc(a[0].ID)
			placed = append(placed, a[0].ID)
		}
	}
	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	srv.CompleteAlloc(placed[0])

	r := execCaravan(t, env, "", "pools", "-json")
	mustCode(t, r, ExitOK)
	var rows []poolRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("pools -json: %v\n%s", err, r.stdout)
	}
	p := rows[0]
	// The completed run held 1 GPU for 30 minutes; the one still running
	// has held one for an hour; the third was placed when the first ended.
	if p.NodePool != "gpu" || p.GPUsBusy != 2 || p.Running != 2 || math.Abs(p.GPUSeconds/3600-1.5) > 0.05 {
		t.Errorf("pool row %+v", p)
	}
	r = execCaravan(t, env, "", "pools")
	mustContain(t, r.stdout, "gpu", "2/0", "No autoscaler records")

	r = execCaravan(t, env, "", "cost", "-json")
	mustCode(t, r, ExitOK)
	var rep query.CostReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Source != "runs" || len(rep.Runs) != 2 || len(rep.Pools) != 1 || math.Abs(rep.Pools[0].AllocatedGPUSeconds/3600-1.5) > 0.05 {
		t.Errorf("cost from runs: %+v", rep)
	}
	r = execCaravan(t, env, "", "cost")
	mustContain(t, r.stdout, "GPU-HOURS USED", "1.50", "known where `caravan autoscale` runs")
}

// TestPoolRowsGPUTimeByNodePool: the GPU time of the last day lands on the
// node pool each run ran on, not on the node pools where runs of the same
// caravan pool are active now, and a node pool whose runs all ended (its
// nodes scaled away) still shows the time they held.
func TestPoolRowsGPUTimeByNodePool(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	gpuNode := func(id, pool string, gpus int) *api.NodeListStub {
		var inst []*api.NodeDevice
		for i := range gpus {
			inst = append(inst, &api.NodeDevice{ID: fmt.Sprint(id, i), Healthy: true})
		}
		return &api.NodeListStub{ID: id, NodePool: pool, Status: "ready", SchedulingEligibility: "eligible",
			NodeResources: &api.NodeResources{Devices: []*api.NodeDeviceResource{{Type: "gpu", Instances: inst}}}}
	}
	view := &query.Runs{
		Rows: []query.Run{
			// Ran on alpha, ended an hour ago: 2 GPUs × 1 h.
			{ID: "done-alpha", Pool: "shared", NodePool: "alpha", GPUs: 2, State: record.StateComplete,
				Started: now.Add(-2 * time.Hour), Finished: now.Add(-time.Hour)},
			// Runs on beta: 1 GPU × 30 min so far.
			{ID: "live-beta", Pool: "shared", NodePool: "beta", GPUs: 1, State: record.StateRunning,
				Started: now.Add(-30 * time.Minute)},
			// Ran on gamma, whose nodes are gone: 1 GPU × 3 h.
			{ID: "done-gamma", Pool: "old", NodePool: "gamma", GPUs: 1, State: record.StateFailed,
				Started: now.Add(-5 * time.Hour), Finished: now.Add(-2 * time.Hour)},
			// Ended two days ago: outside the window.
			{ID: "stale", Pool: "older", NodePool: "alpha", GPUs: 8, State: record.StateComplete,
				Started: now.Add(-50 * time.Hour), Finished: now.Add(-49 * time.Hour)},
		},
		Allocs: []*api.AllocationListStub{{ID: "a1", JobID: "live-beta", NodeID: "b1", ClientStatus: "running", DesiredStatus: "run"}},
	}
	nodes := []*api.NodeListStub{gpuNode("a1", "alpha", 2), gpuNode("b1", "beta", 2)}
	rows := poolRows(view, nodes, nil, now)
	type got struct {
		pools    string
		gpuHours float64
	}
	byPool := map[string]got{}
	for _, r := range rows {
		byPool[r.NodePool] = got{strings.Join(r.Pools, ","), math.Round(r.GPUSeconds/36) / 100}
	}
	want := map[string]got{
		"alpha": {"shared", 2},
		"beta":  {"shared", 0.5},
		"gamma": {"old", 3},
	}
	if !maps.Equal(byPool, want) {
		t.Errorf("node pool → caravan pools, GPU-hours in the last day:\n got %v\nwant %v", byPool, want)
	}
}
