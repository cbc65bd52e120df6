package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestQueueInSweepOrder: five one-GPU runs on a node of two GPUs; queue
// lists the three that wait, in sweep order (apply registers a sweep in
// order), with what they need and why they wait in words, and when the
// first may start if the running runs end at their timeout.
func TestQueueInSweepOrder(t *testing.T) {
	srv, env := gitopsCluster(t)
	hcl := strings.Replace(trainHCL("train", "1", "2", "3", "4", "5"), "  resources {", "  timeout = \"1h\"\n  resources {", 1)
	dir := writeConfigDir(t, map[string]string{"train.hcl": hcl})
	mustCode(t, execCaravan(t, env, "", "apply", dir, "-parallelism", "16"), ExitOK)
	lrOf := map[string]string{}
	var running []string
	for _, r := range lsRows(t, env) {
		lrOf[r.ID] = paramOf(r, "lr", "")
		if a := srv.Allocs("default", r.ID); len(a) > 0 {
			srv.StartAlloc(a[0].ID)
			running = append(running, r.ID)
		}
	}
	if len(running) != 2 {
		t.Fatalf("%d runs placed, want 2", len(running))
	}
	r := execCaravan(t, env, "", "queue", "-json")
	mustCode(t, r, ExitOK)
	var q []queueEntry
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil {
		t.Fatal(err)
	}
	var lrs []string
	for i, e := range q {
		lrs = append(lrs, lrOf[e.ID])
		if e.Position != i+1 || e.NodePool != "gpu" || e.GPUs != 1 || !strings.HasPrefix(e.Reason, "2 of 2 GPUs busy") {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if strings.Join(lrs, ",") != "3,4,5" {
		t.Errorf("queue order by lr: %v, want the sweep's 3,4,5", lrs)
	}
	if len(q) == 3 && (q[0].Until.IsZero() || !strings.Contains(q[0].Reason, "until ≈") || !q[2].Until.IsZero()) {
		t.Errorf("until: first %+v, third %+v", q[0], q[2])
	}
	r = execCaravan(t, env, "", "queue")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "pool gpu: 3 runs waiting", "#  RUN", "1 GPU", "2 of 2 GPUs busy (until ≈")
	r = execCaravan(t, env, "", "queue", "-pool", "other")
	mustContain(t, r.stdout, "No runs wait.")
}

// TestWhyQueued: the reasons queue gives in words.
func TestWhyQueued(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	node := func(id string, gpus int) *api.NodeListStub {
		n := &api.NodeListStub{ID: id, NodePool: "gpu", Status: "ready", SchedulingEligibility: "eligible",
			NodeResources: &api.NodeResources{Devices: []*api.NodeDeviceResource{{Type: "gpu", Name: "H100"}}}}
		for range gpus {
			n.NodeResources.Devices[0].Instances = append(n.NodeResources.Devices[0].Instances, &api.NodeDevice{Healthy: true})
		}
		return n
	}
	queued := func(id string, gpus, prio int, idx uint64) query.Run {
		return query.Run{ID: id, Pool: "gpu", GPUs: gpus, State: record.StateQueued, Priority: prio, CreateIndex: idx}
	}
	tests := []struct {
		name  string
		in    queueInput
		order string
		want  []string
	}{
		{"no node big enough", queueInput{view: &query.Runs{Rows: []query.Run{queued("big", 8, 50, 1)}}, nodes: []*api.NodeListStub{node("n1", 2)}},
			"big", []string{"no node has 8 GPUs (the largest in pool gpu has 2)"}},
		{"no nodes at max_nodes", queueInput{view: &query.Runs{Rows: []query.Run{queued("r", 1, 50, 1)}}, pools: map[string]poolLimit{"gpu": {NodePool: "gpu", MaxNodes: 4, Nodes: 4, AtMax: true}}},
			"r", []string{"no ready node in pool gpu, which is at max_nodes (4)"}},
		{"priority first", queueInput{view: &query.Runs{Rows: []query.Run{queued("low", 1, 30, 1), queued("high", 1, 80, 2)}}, nodes: []*api.NodeListStub{node("n1", 0)}},
			"high,low", nil},
		{"waits for others", queueInput{view: &query.Runs{Rows: []query.Run{{ID: "eval-1", Pool: "gpu", State: record.StateWaiting,
			Wait: &query.Wait{Experiments: []string{"train"}, Done: 2, Total: 3}}}}},
			"eval-1", []string{"waiting for train (2 of 3 runs done)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.now = now
			q := queueOf(tc.in)
			var ids []string
			for i, e := range q {
				ids = append(ids, e.ID)
				if i < len(tc.want) && e.Reason != tc.want[i] {
					t.Errorf("%s: reason %q, want %q", e.ID, e.Reason, tc.want[i])
				}
			}
			if strings.Join(ids, ",") != tc.order {
				t.Errorf("order %v, want %s", ids, tc.order)
			}
		})
	}
}
