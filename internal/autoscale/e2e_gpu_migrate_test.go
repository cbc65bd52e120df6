//go:build e2e

package autoscale_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale"
)

// TestE2EMigrateCheckpointingRun: two local GPU clients of one pool share
// a host volume on one directory. A run that counts steps into
// CARAVAN_CHECKPOINT_DIR is moved by `caravan migrate` while it runs: it
// checkpoints on its signal, resumes from its last step on the other
// node, and `caravan report` lists one move. Then a run without a
// checkpoint block holds one node and the checkpointing run the other,
// each half full: the autoscaler empties a node by moving the
// checkpointing run onto the other run's node, and the run that cannot
// checkpoint is never stopped.
func TestE2EMigrateCheckpointingRun(t *testing.T) {
	e, ckpt := newCheckpointEnv(t, 9*time.Minute)
	e.start("-move-min-age", "5s")
	e.poll("the autoscaler starts two GPU clients", 3*time.Minute, func() bool { return len(e.readyNodes()) == 2 })

	run := e.submitCounter(ckpt)
	stepFile := filepath.Join(ckpt, run, "step")
	e.poll("the run counts steps", 2*time.Minute, func() bool { return readStep(stepFile) >= 5 })
	from := e.runningAlloc(run)

	out := e.caravan("migrate", run, "-namespace", e.ns, "-reason", "e2e", "-wait", "2m")
	to := e.runningAlloc(run)
	if to.ID == from.ID || to.NodeName == from.NodeName {
		t.Fatalf("after migrate the run is in allocation %s on %s, it was in %s on %s\n%s", to.ID, to.NodeName, from.ID, from.NodeName, out)
	}
	saved := checkpointedStep(t, e.logs(from.ID))
	resumed := resumedStep(t, e.logs(to.ID))
	if saved < 5 || resumed != saved {
		t.Fatalf("the run checkpointed step %d on %s and resumed from step %d on %s; want the same step, at least 5", saved, from.NodeName, resumed, to.NodeName)
	}
	e.poll("the run goes on counting on "+to.NodeName, time.Minute, func() bool { return readStep(stepFile) > saved+3 })
	rep := e.report(run)
	if len(rep.Moves) != 1 || !rep.Moves[0].Running || rep.Moves[0].FromNode != from.NodeName || rep.Moves[0].ToNode != to.NodeName {
		t.Fatalf("report lists moves %+v; want one, from %s to %s", rep.Moves, from.NodeName, to.NodeName)
	}

	// The node the run left now takes a run that cannot checkpoint.
	plain, plainAlloc := e.submitPinned(from.NodeName)
	e.poll("the autoscaler moves the checkpointing run next to the other", 3*time.Minute, func() bool {
		a := e.runningAlloc(run)
		return a != nil && a.NodeName == from.NodeName
	})
	if a := e.runningAlloc(plain); a == nil || a.ID != plainAlloc {
		t.Fatalf("the run without a checkpoint block was stopped or moved: now %+v", a)
	}
	rep = e.report(run)
	if len(rep.Moves) != 2 || !strings.HasPrefix(rep.Moves[1].By, "autoscaler") || rep.Moves[1].ExpectedSavingGPUHours <= 0 {
		t.Fatalf("report lists moves %+v; want the autoscaler's second, with its expected saving", rep.Moves)
	}
	if os.Getenv("E2E_SHOW_LOG") != "" {
		t.Log(e.procs[0].logs())
	}
	if l := e.procs[0].logs(); !strings.Contains(l, "moved run to empty its node") {
		t.Errorf("the autoscaler's log does not show the move:\n%s", l)
	}
}

// readyNodes are the env's node pool's ready, eligible nodes.
func (e *gpuEnv) readyNodes() []string {
	nodes, err := e.nc.Nodes(e.ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range nodes {
		if n.NodePool == e.nodePool && n.Status == "ready" {
			out = append(out, n.Name)
		}
	}
	return out
}

// caravan runs the built binary and returns its output; a failure fails
// the test.
func (e *gpuEnv) caravan(args ...string) string {
	e.t.Helper()
	out, err := exec.CommandContext(e.ctx, e.bin, args...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("caravan %s: %v\n%s\n%s", strings.Join(args, " "), err, out, e.describe())
	}
	return string(out)
}

// newCheckpointEnv is a pool of two local GPU clients that share a host
// volume "caravan-checkpoints" on one directory, returned beside the env:
// what a checkpointing run resumes from wherever it lands.
func newCheckpointEnv(t *testing.T, timeout time.Duration) (*gpuEnv, string) {
	ckpt := t.TempDir()
	e := newGPUEnvWith(t, timeout, "", gpuEnvOpts{minNodes: 2, maxNodes: 2, clientConfig: fmt.Sprintf(`client {
  host_volume "caravan-checkpoints" {
    path = %q
  }
}`, ckpt)})
	return e, ckpt
}

// submitCounter submits, with `caravan run`, a checkpointing run that
// counts a step every 200 ms into its checkpoint directory, resumes from
// the step it finds there and, on SIGUSR1, says which step it saved.
func (e *gpuEnv) submitCounter(ckpt string) string {
	e.poll("the autoscaler publishes the pool catalogue", time.Minute, func() bool {
		_, err := e.nc.Variable(e.ctx, e.ns, autoscale.CatalogVariable)
		return err == nil
	})
	dir := e.t.TempDir()
	script := `d=$CARAVAN_CHECKPOINT_DIR; mkdir -p $d; step=$(cat $d/step 2>/dev/null || echo 0); echo resume-from $step; ` +
		`trap 'echo checkpointed $step; exit 0' USR1; ` +
		`while true; do step=$((step+1)); echo $step > $d/step.tmp; mv $d/step.tmp $d/step; sleep 0.2; done`
	hcl := fmt.Sprintf(`caravan {
  project = "e2e-migrate"
}

experiment "counter" {
  pool      = %q
  namespace = %q
  driver    = "raw_exec"
  command   = "/bin/sh"
  args      = ["-c", %q]
  resources {
    gpus   = 1
    cpu    = 100
    memory = "64MiB"
  }
  checkpoint {
    signal = "SIGUSR1"
    grace  = "10s"
    dir    = %q
    volume = "caravan-checkpoints"
  }
}
`, e.pool, e.ns, script, ckpt)
	file := filepath.Join(dir, "train.hcl")
	if err := os.WriteFile(file, []byte(hcl), 0o644); err != nil {
		e.t.Fatal(err)
	}
	out := e.caravan("run", file, "-namespace", e.ns, "-pools-namespace", e.ns)
	m := regexp.MustCompile(`registered (\S+)`).FindStringSubmatch(out)
	if m == nil {
		e.t.Fatalf("caravan run registered nothing:\n%s", out)
	}
	e.t.Cleanup(func() { _ = e.nc.PurgeJob(e.ctx, e.ns, m[1]) })
	return m[1]
}

// submitPinned registers a run of no checkpoint, one GPU, on node, and
// returns its job and the allocation it runs in.
func (e *gpuEnv) submitPinned(node string) (string, string) {
	id := "plain-" + e.pool
	job := api.NewBatchJob(id, id, "", 50)
	job.Region = nil
	job.Namespace = &e.ns
	job.NodePool = &e.nodePool
	job.Datacenters = []string{"*"}
	job.Constrain(api.NewConstraint("${node.unique.name}", "=", node))
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("train", "raw_exec")
	task.Config = map[string]any{"command": "/bin/sleep", "args": []string{"600"}}
	task.Resources = &api.Resources{CPU: ptr(100), MemoryMB: ptr(64), Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: ptr(uint64(1))}}}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	e.t.Cleanup(func() { _ = e.nc.PurgeJob(e.ctx, e.ns, id) })
	if _, err := e.nc.RegisterJob(e.ctx, job, false, 0); err != nil {
		e.t.Fatal(err)
	}
	e.poll("the pinned run starts on "+node, time.Minute, func() bool { return e.runningAlloc(id) != nil })
	return id, e.runningAlloc(id).ID
}

// runningAlloc is the job's running allocation that Nomad wants running.
func (e *gpuEnv) runningAlloc(job string) *api.AllocationListStub {
	stubs, err := e.nc.JobAllocations(e.ctx, e.ns, job)
	if err != nil {
		return nil
	}
	for _, s := range stubs {
		if s.ClientStatus == api.AllocClientStatusRunning && s.DesiredStatus == api.AllocDesiredStatusRun {
			return s
		}
	}
	return nil
}

func (e *gpuEnv) logs(alloc string) string {
	out, err := e.nc.LogTail(e.ctx, alloc, "train", false, 64<<10)
	if err != nil {
		e.t.Fatalf("logs of %s: %v", alloc, err)
	}
	return out
}

func readStep(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func checkpointedStep(t *testing.T, log string) int { return stepAfter(t, log, "checkpointed ") }
func resumedStep(t *testing.T, log string) int      { return stepAfter(t, log, "resume-from ") }

func stepAfter(t *testing.T, log, word string) int {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(word) + `(\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no %q in the log:\n%s", word, log)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// migReport is what the test reads of `caravan report -json`.
type migReport struct {
	Moves []struct {
		By                     string  `json:"by"`
		Running                bool    `json:"running"`
		FromNode               string  `json:"from_node"`
		ToNode                 string  `json:"to_node"`
		ExpectedSavingGPUHours float64 `json:"expected_saving_gpu_hours"`
	} `json:"moves"`
}

func (e *gpuEnv) report(run string) migReport {
	e.t.Helper()
	var rep migReport
	e.poll("report reads the run's record", time.Minute, func() bool {
		b, err := exec.CommandContext(e.ctx, e.bin, "report", run, "-json", "-namespace", e.ns).Output()
		return err == nil && json.Unmarshal(b, &rep) == nil
	})
	return rep
}
