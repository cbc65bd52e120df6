package autoscale_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// clock is an injected clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func needTerraform(t *testing.T) {
	t.Helper()
	if _, err := terraform.FindBinary(""); err != nil {
		t.Skipf("integration test with real Terraform: %v", err)
	}
}

func gpuPool() *spec.Pool {
	return &spec.Pool{
		Name: "gpu", NodePool: "gpu", Declared: true, GPU: "nvidia/gpu", GPUsPerNode: 2,
		MinNodes: 0, MaxNodes: 4, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute,
		PricePerHour: 3.6, Terraform: &spec.PoolTerraform{Module: "../../terraform/test-pool"},
	}
}

// gpuJob is a batch job in node pool gpu asking for gpus GPUs.
func gpuJob(id string, gpus int) *api.Job {
	j := api.NewBatchJob(id, id, "global", 50)
	j.NodePool = ptr("gpu")
	j.Datacenters = []string{"*"}
	j.Meta = map[string]string{"caravan_managed_by": "caravan", "caravan_run_id": id}
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("train", "raw_exec")
	task.Config = map[string]any{"command": "/bin/true"}
	task.Resources = &api.Resources{CPU: ptr(500), MemoryMB: ptr(256),
		Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: ptr(uint64(gpus))}}}
	tg.Tasks = []*api.Task{task}
	j.TaskGroups = []*api.TaskGroup{tg}
	return j
}

func ptr[T any](v T) *T { return &v }

type harness struct {
	srv   *nomadtest.Server
	nc    *nomad.Client
	ws    *terraform.Workspace
	clk   *clock
	logs  *syncbuf.Buffer
	reg   *prometheus.Registry
	loop  *autoscale.Loop
	pool  *spec.Pool
	state string
}

func newHarness(t *testing.T, stateDir string, srv *nomadtest.Server, vars map[string]string) *harness {
	t.Helper()
	needTerraform(t)
	h := &harness{srv: srv, clk: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, logs: &syncbuf.Buffer{}, reg: prometheus.NewRegistry(), pool: gpuPool(), state: stateDir}
	if h.srv == nil {
		h.srv = nomadtest.New(t)
		h.srv.AddNodePool("gpu", "GPU machines")
		h.srv.SetAutoRun(true)
	}
	h.srv.Now = h.clk.Now
	nc, err := nomad.New(nomad.Config{Address: h.srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h.nc = nc
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := terraform.Options{Pool: "gpu", Module: h.pool.Terraform.Module, StateDir: stateDir, Logger: log}
	if len(vars) > 0 {
		opts.Vars = ctyVars(vars)
	}
	h.ws, err = terraform.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The plain idle_timeout rule, so the test can say when scale-in is
	// due; DefaultPolicy may scale in earlier (ScaleInGrace).
	policy := decide.IdleTimeoutPolicy()
	h.loop, err = autoscale.NewLoop(autoscale.Config{
		Pools:        map[string]*spec.Pool{"gpu": h.pool},
		Provisioners: map[string]autoscale.Provisioner{"gpu": h.ws},
		Nomad:        nc,
		SyncApply:    true,
		Policy:       &policy,
		BackoffMin:   time.Minute,
		Now:          h.clk.Now,
		Logger:       log,
		Metrics:      autoscale.NewMetrics(h.reg),
		Holder:       "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) step(t *testing.T) {
	t.Helper()
	if err := h.loop.Step(context.Background(), time.Now()); err != nil {
		t.Fatalf("step: %v\nlogs:\n%s", err, h.logs.String())
	}
}

// submit registers one GPU job per ID, each asking for gpus GPUs.
func (h *harness) submit(t *testing.T, gpus int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := h.nc.RegisterJob(context.Background(), gpuJob(id, gpus), false, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) inState(t *testing.T) []string {
	t.Helper()
	n, err := h.ws.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *harness) record(t *testing.T) autoscale.PoolRecord {
	t.Helper()
	r, ok, err := autoscale.LoadPoolRecord(context.Background(), h.nc, "", "gpu")
	if err != nil || !ok {
		t.Fatalf("pool record: ok=%v err=%v", ok, err)
	}
	return r
}

// TestScaleUpAndDown is the integration test: fake Nomad, real
// Terraform with terraform/test-pool. A queued GPU run makes the state gain
// a node; the node registers; the run is placed and finishes; after
// idle_timeout the node is drained and its name leaves the state.
func TestScaleUpAndDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, t.TempDir(), nil, nil)
	ctx := context.Background()
	h.submit(t, 1, "train-1")
	h.step(t)
	nodes := h.inState(t)
	if len(nodes) != 1 {
		t.Fatalf("after a queued 1-GPU run: state holds %v, want one node\nlogs:\n%s", nodes, h.logs.String())
	}
	name := nodes[0]
	rec := h.record(t)
	if rec.Queued != 1 || !strings.Contains(rec.Last.Reason, "new machine") || len(rec.InState) != 1 {
		t.Errorf("record after scale-up: %+v", rec)
	}
	// A second step before the machine registers must not ask for more.
	h.clk.Advance(time.Minute)
	h.step(t)
	if n := h.inState(t); len(n) != 1 {
		t.Fatalf("booting machine was not counted: state %v", n)
	}

	// The machine boots and registers; the fake schedules the run on it.
	nodeID := h.srv.AddNode(nomadtest.NodeSpec{Name: name, Pool: "gpu", GPUs: 2, CPU: 8000, MemoryMB: 32768})
	allocs := h.srv.Allocs("default", "train-1")
	if len(allocs) != 1 {
		t.Fatalf("run not placed on the new node: %+v", allocs)
	}
	h.clk.Advance(time.Minute)
	h.step(t)
	if got := metricValue(t, h.reg, "caravan_autoscaler_nodes", map[string]string{"pool": "gpu", "state": "ready"}); got != 1 {
		t.Errorf("caravan_autoscaler_nodes{state=ready} = %v, want 1", got)
	}
	rec = h.record(t)
	if rec.GPUsBusy != 1 || rec.GPUsFree != 1 {
		t.Errorf("record GPUs busy/free = %d/%d, want 1/1", rec.GPUsBusy, rec.GPUsFree)
	}

	// The run finishes; before idle_timeout nothing happens.
	h.srv.CompleteAlloc(allocs[0].ID)
	h.clk.Advance(5 * time.Minute)
	h.step(t)
	if n := h.inState(t); len(n) != 1 {
		t.Fatalf("node removed before idle_timeout: %v", n)
	}
	if n, _ := h.nc.Node(ctx, nodeID); n.SchedulingEligibility != api.NodeSchedulingEligible || n.Drain {
		t.Fatalf("node cordoned or drained before idle_timeout")
	}

	// After idle_timeout it is drained, then removed once empty.
	h.clk.Advance(6 * time.Minute)
	for i := 0; i < 3 && len(h.inState(t)) > 0; i++ {
		h.step(t)
		h.clk.Advance(10 * time.Second)
	}
	if n := h.inState(t); len(n) != 0 {
		t.Fatalf("idle node still in state after idle_timeout: %v\nlogs:\n%s", n, h.logs.String())
	}
	node, err := h.nc.Node(ctx, nodeID)
	if err != nil {
		t.Fatal(err)
	}
	if node.SchedulingEligibility != api.NodeSchedulingIneligible {
		t.Errorf("removed node was not made ineligible first: %s", node.SchedulingEligibility)
	}
	if node.LastDrain == nil {
		t.Errorf("removed node was never drained")
	}
	rec = h.record(t)
	if len(rec.InState) != 0 || rec.SpendToday <= 0 {
		t.Errorf("record after scale-in: in state %v, spend %v", rec.InState, rec.SpendToday)
	}
	if got := metricValue(t, h.reg, "caravan_autoscaler_machines_removed_total", map[string]string{"pool": "gpu"}); got != 1 {
		t.Errorf("machines_removed_total = %v, want 1", got)
	}
	if testing.Verbose() {
		t.Log(h.logs.String())
	}
	// Paid: one node from scale-up to removal (about 13 minutes of the
	// injected clock) at $3.60/h.
	cost, err := autoscale.LoadCostRecords(ctx, h.nc, "", h.clk.Now().Add(-24*time.Hour), h.clk.Now())
	if err != nil || len(cost) != 1 {
		t.Fatalf("cost records: %v %v", cost, err)
	}
	if c := cost[0]; c.NodeSeconds < 600 || c.AllocatedGPUSeconds <= 0 || c.Dollars <= 0 || c.IdleGPUSeconds() <= 0 {
		t.Errorf("cost figures: %+v", c.CostFigures)
	}
}

// metricValue reads one series from reg; a missing series fails the test.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func ctyVars(vars map[string]string) map[string]cty.Value {
	out := map[string]cty.Value{}
	for k, v := range vars {
		out[k] = cty.StringVal(v)
	}
	return out
}
