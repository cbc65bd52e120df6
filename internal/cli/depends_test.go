package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

const prepHCL = `experiment "prep" {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/true"
  resources {
    cpu = 100
  }
}
`

func trainAfterPrepHCL() string {
	return strings.Replace(trainHCL("train", "0.1", "0.2", "0.3"), "  pool    = \"gpu\"\n", "  pool    = \"gpu\"\n  depends_on = [\"prep\"]\n", 1)
}

// releasePass runs one pass of the controller's dependency reconciler, as
// `caravan controller` does in the cluster.
func releasePass(t *testing.T, env []string) controller.PassResult {
	t.Helper()
	cl, err := nomad.New(nomad.Config{Getenv: envLookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := controller.NewDependencies(controller.DependenciesConfig{Nomad: cl}).Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func endJob(srv *nomadtest.Server, id string, ok bool) {
	for _, a := range srv.Allocs("default", id) {
		if ok {
			srv.CompleteAlloc(a.ID)
		} else {
			srv.FailAlloc(a.ID, 2)
		}
	}
}

func TestDependsOnWaitsThenStarts(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"prep.hcl": prepHCL, "train.hcl": trainAfterPrepHCL()})
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Apply complete: 1 registered, 3 waiting for the runs they depend on")
	ids := srv.JobIDs("*")
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "prep-") {
		t.Fatalf("Nomad has %v; only prep may be registered before it completes", ids)
	}
	prep := ids[0]

	r = execCaravan(t, env, "", "ls")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "waiting", "  waiting for prep (0 of 1 runs done)")
	for _, line := range strings.Split(r.stdout, "\n") {
		if len(line) > lsWidth {
			t.Errorf("ls line over %d columns: %q", lsWidth, line)
		}
	}
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "waiting for prep (0 of 1 runs done)", "0 to create, 4 unchanged")
	r = execCaravan(t, env, "", "status")
	mustContain(t, r.stdout, "waiting:  3 runs for the runs they depend on", "waiting for prep (0 of 1 runs done)")

	if res := releasePass(t, env); res.Released != 0 || res.Waiting != 3 {
		t.Fatalf("released before prep completed: %+v", res)
	}
	var train string
	for _, l := range strings.Split(execCaravan(t, env, "", "ls", "-state", "waiting").stdout, "\n") {
		if strings.HasPrefix(l, "train-") {
			train = strings.Fields(l)[0]
		}
	}
	r = execCaravan(t, env, "", "show", train)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "State:      waiting", "Waiting:    waiting for prep (0 of 1 runs done)", "Job:        none yet")

	endJob(srv, prep, true)
	if res := releasePass(t, env); res.Released != 3 {
		t.Fatalf("prep completed: %+v", res)
	}
	if n := len(srv.JobIDs("*")); n != 4 {
		t.Fatalf("Nomad has %d jobs, want prep and 3 train runs", n)
	}
	r = execCaravan(t, env, "", "ls", "-json")
	if strings.Contains(r.stdout, `"state": "waiting"`) {
		t.Errorf("runs still waiting after the release:\n%s", r.stdout)
	}
}

func TestDependsOnBlockedThenRerunReleases(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"prep.hcl": prepHCL, "train.hcl": trainAfterPrepHCL()})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	prep := srv.JobIDs("*")[0]
	endJob(srv, prep, false)
	if res := releasePass(t, env); res.Blocked != 3 || res.Released != 0 {
		t.Fatalf("prep failed: %+v", res)
	}
	r := execCaravan(t, env, "", "ls")
	mustContain(t, r.stdout, "blocked", "  blocked by "+prep+" (failed)")
	r = execCaravan(t, env, "", "plan", dir)
	mustContain(t, r.stdout, "blocked by "+prep+" (failed)")

	// A rerun of the failed run releases them once it completes.
	recordRuns(t, env)
	mustCode(t, execCaravan(t, env, "", "rerun", prep), ExitOK)
	rerun := gitopsRerunID(prep, 1)
	if res := releasePass(t, env); res.Waiting != 3 {
		t.Fatalf("rerun on its way: %+v", res)
	}
	endJob(srv, rerun, true)
	if res := releasePass(t, env); res.Released != 3 {
		t.Fatalf("rerun completed: %+v", res)
	}
}

func TestStopWaitingRun(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"prep.hcl": prepHCL, "train.hcl": trainAfterPrepHCL()})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	var train string
	for _, l := range strings.Split(execCaravan(t, env, "", "ls").stdout, "\n") {
		if strings.HasPrefix(l, "train-") {
			train = strings.Fields(l)[0]
		}
	}
	r := execCaravan(t, env, "", "stop", train)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "before it started")
	endJob(srv, srv.JobIDs("*")[0], true)
	if res := releasePass(t, env); res.Released != 2 {
		t.Errorf("released %d; the stopped run must not start", res.Released)
	}
}
