package nomad_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestCreateJobIsIdempotentAndRefusesForeignJobs(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()

	// Ten concurrent submissions of one run: exactly one registers.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.CreateJob(ctx, gpuJob("run-1", "default", 0))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 || srv.Requests("PUT /v1/jobs") != 10 {
		t.Fatalf("created %d times from %d registers", created, srv.Requests("PUT /v1/jobs"))
	}

	// A job caravan does not own with the same ID.
	foreign := gpuJob("taken", "default", 0)
	foreign.Meta = map[string]string{"team": "infra"}
	if _, err := c.RegisterJob(ctx, foreign, false, 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateJob(ctx, gpuJob("taken", "default", 0))
	if !errors.Is(err, nomad.ErrConflict) || !strings.Contains(err.Error(), "caravan does not own it") {
		t.Fatalf("collision: %v", err)
	}
	// A caravan job with the same ID but another spec.
	other := gpuJob("run-1", "default", 0)
	other.Meta[record.MetaSpecHash] = "different"
	if _, err := c.CreateJob(ctx, other); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("different spec: %v", err)
	}
	own, err := c.CaravanJobs(ctx, "")
	if err != nil || len(own) != 1 || own[0].ID != "run-1" {
		t.Fatalf("caravan jobs: %v %v", own, err)
	}
}

func TestNamespacesAreSeparate(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNamespace("ml")
	ctx := context.Background()
	def := newClient(t, srv)
	ml, _ := nomad.New(nomad.Config{Address: srv.URL(), Namespace: "ml", Getenv: func(string) string { return "" }})
	if _, err := ml.RegisterJob(ctx, gpuJob("a", "default", 0), false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := def.RegisterJob(ctx, gpuJob("b", "default", 0), false, 0); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := def.CaravanJobs(ctx, ""); len(jobs) != 1 || jobs[0].ID != "b" {
		t.Fatalf("default sees %v", jobs)
	}
	all, err := def.CaravanJobs(ctx, nomad.AllNamespaces)
	if err != nil || len(all) != 2 {
		t.Fatalf("all namespaces: %d %v", len(all), err)
	}
	if _, err := def.Job(ctx, "", "a"); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("job of ml from default: %v", err)
	}
	if _, err := def.Job(ctx, "ml", "a"); err != nil {
		t.Fatal(err)
	}
	if got := ml.UIJobURL("a", ""); got != srv.URL()+"/ui/jobs/a@ml" {
		t.Fatalf("ui url %s", got)
	}
}

func TestQueuedRunIsPlacedWhenANodeJoins(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	srv.AddNodePool("gpu", "GPU machines")
	if _, err := c.RegisterJob(ctx, gpuJob("wait", "gpu", 4), true, 0); err != nil {
		t.Fatal(err)
	}
	ev, _ := c.BlockedEvaluations(ctx, "")
	if len(ev) != 1 || ev[0].FailedTGAllocs["run"].NodesInPool != 0 {
		t.Fatalf("blocked evals %+v", ev)
	}
	if st := runState(t, c, "wait"); st != record.StateQueued {
		t.Fatalf("state %s", st)
	}
	// Too small a node: still queued, now for missing devices.
	srv.AddNode(nomadtest.NodeSpec{Name: "small", Pool: "gpu", GPUs: 2})
	ev, _ = c.BlockedEvaluations(ctx, "")
	if len(ev) != 1 || ev[0].FailedTGAllocs["run"].ConstraintFiltered["missing devices"] != 1 {
		t.Fatalf("blocked evals %+v", ev[0].FailedTGAllocs["run"])
	}
	big := srv.AddNode(nomadtest.NodeSpec{Name: "big", Pool: "gpu", GPUs: 8})
	allocs, _ := c.JobAllocations(ctx, "", "wait")
	if len(allocs) != 1 || allocs[0].NodeID != big {
		t.Fatalf("allocs %+v", allocs)
	}
	if ev, _ = c.BlockedEvaluations(ctx, ""); len(ev) != 0 {
		t.Fatalf("still blocked: %d", len(ev))
	}
	if st := runState(t, c, "wait"); st != record.StateStarting {
		t.Fatalf("state %s", st)
	}
	srv.StartAlloc(allocs[0].ID)
	if st := runState(t, c, "wait"); st != record.StateRunning {
		t.Fatalf("state %s", st)
	}
	a, err := c.Allocation(ctx, "", allocs[0].ID)
	if err != nil || len(a.AllocatedResources.Tasks["train"].Devices[0].DeviceIDs) != 4 {
		t.Fatalf("alloc devices: %v", err)
	}
	nallocs, err := c.NodeAllocations(ctx, big)
	if err != nil || len(nallocs) != 1 {
		t.Fatalf("node allocs %d %v", len(nallocs), err)
	}
	srv.CompleteAlloc(allocs[0].ID)
	if st := runState(t, c, "wait"); st != record.StateComplete {
		t.Fatalf("state %s", st)
	}
}

func runState(t *testing.T, c *nomad.Client, id string) record.State {
	t.Helper()
	ctx := context.Background()
	j, err := c.Job(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.JobSummary(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.JobAllocations(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	return query.RunState(j, s, a)
}

func TestDrainEligibilityAndNodes(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	n1 := srv.AddNode(nomadtest.NodeSpec{Name: "g1", Pool: "gpu", GPUs: 8})
	if _, err := c.RegisterJob(ctx, gpuJob("busy", "gpu", 1), false, 0); err != nil {
		t.Fatal(err)
	}
	srv.RunAll()
	if err := c.DrainNode(ctx, n1, 10*time.Minute, map[string]string{"caravan": "scale-in"}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Node(ctx, n1)
	if err != nil || !n.Drain || n.SchedulingEligibility != "ineligible" || n.DrainStrategy.Deadline != 10*time.Minute || n.LastDrain.Meta["caravan"] != "scale-in" {
		t.Fatalf("node after drain: %+v %v", n, err)
	}
	// A drain with a running batch alloc waits; the alloc finishing ends it.
	srv.CompleteAlloc(srv.Allocs("default", "busy")[0].ID)
	n, _ = c.Node(ctx, n1)
	if n.Drain || n.LastDrain.Status != "complete" || n.SchedulingEligibility != "ineligible" {
		t.Fatalf("after drain completed: drain %v last %+v elig %s", n.Drain, n.LastDrain, n.SchedulingEligibility)
	}
	if err := c.SetEligibility(ctx, n1, true); err != nil {
		t.Fatal(err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].SchedulingEligibility != "eligible" || len(nodes[0].NodeResources.Devices[0].Instances) != 8 {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
	// Drain a busy node, then cancel.
	c.RegisterJob(ctx, gpuJob("busy2", "gpu", 1), false, 0)
	srv.RunAll()
	if err := c.DrainNode(ctx, n1, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEligibility(ctx, n1, true); err == nil {
		t.Fatal("eligible while draining must fail as in Nomad")
	}
	if err := c.CancelDrain(ctx, n1, true); err != nil {
		t.Fatal(err)
	}
	if n, _ = c.Node(ctx, n1); n.Drain || n.SchedulingEligibility != "eligible" {
		t.Fatalf("after cancel: %v %s", n.Drain, n.SchedulingEligibility)
	}
	pools, err := c.NodePools(ctx)
	if err != nil || len(pools) != 3 {
		t.Fatalf("pools %v %v", pools, err)
	}
	if _, err := c.Node(ctx, "nope"); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("missing node: %v", err)
	}
}

func TestDrainDeadlineMigratesAndNodeDownLosesAllocs(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	srv.SetAutoRun(true)
	n1 := srv.AddNode(nomadtest.NodeSpec{Name: "g1", Pool: "gpu", GPUs: 1})
	if _, err := c.RegisterJob(ctx, gpuJob("mig", "gpu", 1), false, 0); err != nil {
		t.Fatal(err)
	}
	n2 := srv.AddNode(nomadtest.NodeSpec{Name: "g2", Pool: "gpu", GPUs: 1})
	c.DrainNode(ctx, n1, time.Minute, nil)
	srv.ExpireDrain(n1)
	as := srv.Allocs("default", "mig")
	if len(as) != 2 || as[0].DesiredStatus != "stop" || as[1].NodeID != n2 || as[0].NextAllocation != as[1].ID {
		t.Fatalf("after drain deadline: %+v", as)
	}
	if st := runState(t, c, "mig"); st != record.StateRunning {
		t.Fatalf("migrated run state %s", st)
	}
	srv.SetNodeStatus(n2, "down")
	if st := runState(t, c, "mig"); st != record.StateLost {
		t.Fatalf("state after node down %s", st)
	}
}

func TestCheckNamespace(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNamespace("ml")
	c := newClient(t, srv)
	ctx := context.Background()
	for ns, ok := range map[string]bool{"": true, "default": true, "ml": true, "*": true, "typo": false} {
		err := c.CheckNamespace(ctx, ns)
		if ok != (err == nil) || (!ok && !errors.Is(err, nomad.ErrNamespace)) {
			t.Errorf("%q: %v", ns, err)
		}
	}
}

func TestPlanStopPurgeAgainstFake(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	srv.AddNode(nomadtest.NodeSpec{Name: "g", Pool: "gpu", GPUs: 1})
	j := gpuJob("p", "gpu", 1)
	plan, err := c.PlanJob(ctx, j)
	if err != nil || plan.Diff.Type != "Added" || plan.Annotations.DesiredTGUpdates["run"].Place != 1 || len(plan.FailedTGAllocs) != 0 {
		t.Fatalf("plan of a new job: %+v %v", plan, err)
	}
	if _, err := c.RegisterJob(ctx, j, true, 0); err != nil {
		t.Fatal(err)
	}
	srv.RunAll()
	j.Meta["caravan_param_lr"] = "0.1"
	plan, err = c.PlanJob(ctx, j)
	if err != nil || plan.Diff.Type != "Edited" || plan.Diff.Fields[0].Name != "Meta[caravan_param_lr]" {
		t.Fatalf("plan of a change: %+v %v", plan.Diff, err)
	}
	if evs, err := c.JobEvaluations(ctx, "", "p"); err != nil || len(evs) != 1 || evs[0].TriggeredBy != "job-register" {
		t.Fatalf("evals %v %v", evs, err)
	}
	all, err := c.Allocations(ctx, nomad.AllNamespaces)
	if err != nil || len(all) != 1 || all[0].AllocatedResources == nil || len(all[0].AllocatedResources.Tasks["train"].Devices[0].DeviceIDs) != 1 {
		t.Fatalf("allocations with resources %v %v", all, err)
	}
	evalID, err := c.StopJob(ctx, "", "p")
	if err != nil || evalID == "" {
		t.Fatalf("stop %q %v", evalID, err)
	}
	if st := runState(t, c, "p"); st != record.StateStopped {
		t.Fatalf("state after stop %s", st)
	}
	if err := c.PurgeJob(ctx, "", "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, "", "p"); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("after purge: %v", err)
	}
	// Nomad stops a job that is not there without complaint, and without
	// an evaluation.
	if evalID, err := c.StopJob(ctx, "", "p"); err != nil || evalID != "" {
		t.Fatalf("stop of a purged job: %q %v", evalID, err)
	}
	if st := query.RunState(nil, nil, nil); st != record.StateUnknown {
		t.Fatalf("record-only run: %s", st)
	}
}

func TestUnknownNodePoolAndEnsureNodePool(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	_, err := c.RegisterJob(ctx, gpuJob("x", "h100", 1), true, 0)
	if !errors.Is(err, nomad.ErrNodePool) || !strings.Contains(err.Error(), `nonexistent node pool "h100"`) {
		t.Fatalf("job for an unknown pool: %v", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := c.EnsureNodePool(ctx, "h100", "caravan pool h100"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RegisterJob(ctx, gpuJob("x", "h100", 1), true, 0); err != nil {
		t.Fatal(err)
	}
	ev, _ := c.BlockedEvaluations(ctx, "")
	if len(ev) != 1 || ev[0].FailedTGAllocs["run"].NodesInPool != 0 || ev[0].FailedTGAllocs["run"].NodePool != "h100" {
		t.Fatalf("scale-from-zero signal: %+v", ev)
	}
}

func TestBlockedEvaluationsAskNomadToFilter(t *testing.T) {
	srv := nomadtest.New(t)
	var filter string
	var mu sync.Mutex
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/evaluations" {
			mu.Lock()
			filter = r.URL.Query().Get("filter")
			mu.Unlock()
		}
		return false
	})
	c := newClient(t, srv)
	ctx := context.Background()
	srv.AddNodePool("gpu", "GPU machines")
	if _, err := c.RegisterJob(ctx, gpuJob("wait", "gpu", 4), true, 0); err != nil {
		t.Fatal(err)
	}
	ev, err := c.BlockedEvaluations(ctx, "")
	if err != nil || len(ev) != 1 || ev[0].Status != "blocked" {
		t.Fatalf("blocked evals %+v, %v", ev, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if filter != `Status == "blocked"` {
		t.Errorf("evaluations listed with filter %q; a busy cluster returns every evaluation without it", filter)
	}
}
