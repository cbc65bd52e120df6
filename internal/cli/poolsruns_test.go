package cli

import (
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"
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
	var rep costReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Source != "runs" || len(rep.Runs) != 2 || len(rep.Pools) != 1 || math.Abs(rep.Pools[0].AllocatedGPUSeconds/3600-1.5) > 0.05 {
		t.Errorf("cost from runs: %+v", rep)
	}
	r = execCaravan(t, env, "", "cost")
	mustContain(t, r.stdout, "GPU-HOURS USED", "1.50", "known where `caravan autoscale` runs")
}
