package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/terraform"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// seedRecords writes a pool record and today's cost record as the
// autoscaler would.
func seedRecords(t *testing.T, srv *nomadtest.Server, now time.Time) {
	t.Helper()
	rec := autoscale.PoolRecord{
		Pool: "a100", NodePool: "gpu-a100", Updated: now,
		Last: autoscale.RecordedDecision{Time: now.Add(-3 * time.Minute), Reason: "2 queued request(s) need 1 new machine(s)",
			Actions: []decide.Action{{Kind: decide.Create, Nodes: []string{"a100-3"}}}, Target: []string{"a100-1", "a100-2", "a100-3"}},
		InState: []string{"a100-1", "a100-2", "a100-3"}, Nodes: map[string]int{"ready": 2, "booting": 1},
		GPUsBusy: 12, GPUsFree: 4, Queued: 2, QueuedGPUs: 16, Blocked: map[string]int{"missing devices": 2},
		Terraform:  autoscale.TerraformStatus{LastError: "terraform apply of pool \"a100\" failed: InsufficientInstanceCapacity", Failures: 2},
		Misplaced:  []autoscale.MisplacedNode{{Name: "a100-3", NodePool: "default", Allocs: 1}},
		SpendToday: 123.45, PricePerHour: 32.77,
	}
	b, _ := json.Marshal(rec)
	srv.SetVariable("default", autoscale.PoolRecordPrefix+"a100", map[string]string{"record": string(b)})
	c := autoscale.CostRecord{Pool: "a100", Date: now.UTC().Format(time.DateOnly), Price: 32.77, GPUsPerNode: 8,
		RunGPUSeconds: map[string]float64{"resnet-1a2b3c4d": 8 * 3600, "bert-99": 3600}}
	f := autoscale.CostFigures{NodeSeconds: 2 * 3600, GPUSeconds: 16 * 3600, AllocatedGPUSeconds: 9 * 3600, Dollars: 2 * 32.77}
	c.CostFigures = f
	c.Hours[now.UTC().Hour()] = f
	b, _ = json.Marshal(c)
	srv.SetVariable("default", autoscale.CostRecordPrefix+"a100/"+c.Date, map[string]string{"record": string(b)})
}

func TestPoolsCommand(t *testing.T) {
	srv := nomadtest.New(t)
	now := time.Now()
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	if r := execCaravan(t, env, "", "pools"); r.code != ExitOK || !strings.Contains(r.stdout, "No node pools with nodes or runs") {
		t.Fatalf("empty: %+v", r)
	}
	seedRecords(t, srv, now)
	r := execCaravan(t, env, "", "pools")
	if r.code != ExitOK {
		t.Fatalf("pools: %+v", r)
	}
	for _, want := range []string{"a100", "gpu-a100", "12/4", "2 (16 GPUs)", "$123.45", "need 1 new machine", "create a100-3",
		"a100-1, a100-2, a100-3", "InsufficientInstanceCapacity", "missing devices (2)",
		"registered with another node pool", "a100-3 (in default, 1 allocation(s))"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pools output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = execCaravan(t, env, "", "pools", "-json")
	var recs []autoscale.PoolRecord
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("pools -json: %v\n%s", err, r.stdout)
	}
	if recs[0].Last.Reason == "" || recs[0].Last.Time.IsZero() || len(recs[0].InState) != 3 {
		t.Errorf("pools -json lacks the last decision or the nodes in state: %+v", recs[0])
	}
	if r := execCaravan(t, []string{"NOMAD_ADDR=http://127.0.0.1:1"}, "", "pools"); r.code != ExitError || r.stderr == "" {
		t.Errorf("unreachable Nomad: %+v", r)
	}
}

func TestCostCommand(t *testing.T) {
	srv := nomadtest.New(t)
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	seedRecords(t, srv, time.Now())
	r := execCaravan(t, env, "", "cost", "-since", "2h")
	if r.code != ExitOK {
		t.Fatalf("cost: %+v", r)
	}
	for _, want := range []string{"a100", "2.00", "16.00", "9.00", "7.00", "56%", "$65.54", "resnet-1a2b3c4d"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cost output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = execCaravan(t, env, "", "cost", "-json")
	var rep costReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Pools) != 1 {
		t.Fatalf("cost -json: %v\n%s", err, r.stdout)
	}
	p := rep.Pools[0]
	if p.NodeSeconds != 7200 || p.IdleGPUSeconds != 7*3600 || p.Dollars != 2*32.77 {
		t.Errorf("pool figures: %+v", p)
	}
	// resnet: 8 GPU-hours at $32.77 per 8 GPUs per hour.
	if len(rep.Runs) != 2 || rep.Runs[0].Run != "resnet-1a2b3c4d" || rep.Runs[0].Dollars < 32.76 || rep.Runs[0].Dollars > 32.78 {
		t.Errorf("runs: %+v", rep.Runs)
	}
	if r := execCaravan(t, env, "", "cost", "-since", "-1h"); r.code != ExitUsage {
		t.Errorf("negative -since: %+v", r)
	}

	// With a project, the per-run list keeps that project's runs only;
	// the pools, shared by every project, stay whole.
	srv.SetVariable("default", record.Ref{Project: "vision", RunID: "resnet-1a2b3c4d"}.Path(), map[string]string{"record": `{"run_id":"resnet-1a2b3c4d","project":"vision"}`})
	r = execCaravan(t, env, "", "cost", "-json", "-project", "vision")
	rep = costReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("cost -json -project: %v\n%s", err, r.stdout)
	}
	if rep.Project != "vision" || len(rep.Runs) != 1 || rep.Runs[0].Run != "resnet-1a2b3c4d" || len(rep.Pools) != 1 || rep.Pools[0].NodeSeconds != 7200 {
		t.Errorf("cost -project vision: %+v", rep)
	}
}

// autoscaleFixture writes a configuration whose pool "gpu" uses
// terraform/test-pool, and a fake Nomad with one queued 1-GPU run.
func autoscaleFixture(t *testing.T) (dir string, srv *nomadtest.Server) {
	t.Helper()
	if _, err := terraform.FindBinary(""); err != nil {
		t.Skipf("needs terraform: %v", err)
	}
	module, err := filepath.Abs("../../terraform/test-pool")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	hcl := `pool "gpu" {
  node_pool     = "gpu"
  gpus_per_node = 2
  max_nodes     = 2
  terraform {
    module = "` + module + `"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "pools.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	srv = nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	nc, err := nomad.New(nomad.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	job := api.NewBatchJob("train-1", "train-1", "global", 50)
	job.NodePool = &[]string{"gpu"}[0]
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("train", "raw_exec")
	task.Resources = &api.Resources{CPU: &[]int{100}[0], MemoryMB: &[]int{64}[0], Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: &[]uint64{1}[0]}}}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	if _, err := nc.RegisterJob(context.Background(), job, false, 0); err != nil {
		t.Fatal(err)
	}
	return dir, srv
}

// startAutoscale runs `caravan autoscale` in the background until stop.
func startAutoscale(t *testing.T, args ...string) (out, errb *syncbuf.Buffer, stop func() int) {
	t.Helper()
	out, errb = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	env := Env{Stdout: out, Stderr: errb, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.NewTextHandler(errb, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- Main(ctx, append([]string{"autoscale"}, args...), env) }()
	var once sync.Once
	exit := 0
	return out, errb, func() int {
		once.Do(func() { cancel(); exit = <-code })
		return exit
	}
}

func waitUntil(t *testing.T, what string, errb *syncbuf.Buffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s\nstderr:\n%s", what, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAutoscaleDryRun: a queued GPU run makes `caravan autoscale -dry-run`
// print a create decision, and nothing is applied or written.
func TestAutoscaleDryRun(t *testing.T) {
	dir, srv := autoscaleFixture(t)
	stateDir := t.TempDir()
	out, errb, stop := startAutoscale(t, dir, "-dry-run", "-listen", "127.0.0.1:0", "-state-dir", stateDir, "-address", srv.URL())
	waitUntil(t, "a create decision is printed", errb, func() bool { return strings.Contains(out.String(), "create gpu-") })
	if c := stop(); c != ExitOK {
		t.Fatalf("exit %d\nstderr:\n%s", c, errb.String())
	}
	if !strings.Contains(out.String(), "[dry-run]") {
		t.Errorf("dry-run output not marked: %s", out.String())
	}
	// Not even a workdir: terraform init would have made one (and
	// downloaded providers).
	if _, err := os.Stat(filepath.Join(stateDir, "gpu")); !os.IsNotExist(err) {
		t.Errorf("dry run touched the Terraform workdir (%v)", err)
	}
	if _, ok := srv.VariableItems("default", autoscale.PoolRecordPrefix+"gpu")["record"]; ok {
		t.Errorf("dry run wrote a pool record")
	}
}

// TestAutoscaleApplies: the real command takes the lock, applies the
// Terraform state for the queued run, and `caravan pools -json` shows it.
func TestAutoscaleApplies(t *testing.T) {
	dir, srv := autoscaleFixture(t)
	stateDir := t.TempDir()
	_, errb, stop := startAutoscale(t, dir, "-listen", "127.0.0.1:0", "-state-dir", stateDir, "-address", srv.URL())
	defer stop()
	var recs []autoscale.PoolRecord
	waitUntil(t, "the pool record lists a node in Terraform state", errb, func() bool {
		r := execCaravan(t, []string{"NOMAD_ADDR=" + srv.URL()}, "", "pools", "-json")
		recs = nil
		_ = json.Unmarshal([]byte(r.stdout), &recs)
		return len(recs) == 1 && len(recs[0].InState) == 1 && recs[0].Terraform.LastApply.After(time.Time{})
	})
	if recs[0].Holder == "" || !strings.Contains(recs[0].Last.Reason, "new machine") {
		t.Errorf("record: holder %q, last decision %+v", recs[0].Holder, recs[0].Last)
	}
	if _, ok := srv.VariableItems("default", autoscale.LeaseVariable)["holder"]; !ok {
		t.Errorf("the autoscaler did not take the lock")
	}
	if c := stop(); c != ExitOK {
		t.Fatalf("exit %d\nstderr:\n%s", c, errb.String())
	}
}

func TestAutoscaleUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pools.hcl"), []byte("pool \"gpu\" {\n  gpus_per_node = 2\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execCaravan(t, nil, "", "autoscale", dir, "-listen", "")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "terraform block") {
		t.Errorf("no terraform pools: %+v", r)
	}
	if r := execCaravan(t, nil, "", "autoscale", "a", "b"); r.code != ExitUsage {
		t.Errorf("two dirs: %+v", r)
	}
}
