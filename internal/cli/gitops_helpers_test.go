package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// trainHCL is an experiment of len(lrs) raw_exec runs on pool gpu.
func trainHCL(name string, lrs ...string) string {
	return fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "echo lr=${param.lr}"]
  params  = { seed = 1 }
  sweep {
    grid = { lr = [%s] }
  }
  resources {
    gpus   = 1
    cpu    = 500
    memory = "256MiB"
  }
}
`, name, strings.Join(lrs, ", "))
}

// gitopsCluster is a fake Nomad with one ready GPU node (2 GPUs) in pool
// gpu, and the environment that points caravan at it.
func gitopsCluster(t *testing.T) (*nomadtest.Server, []string) {
	t.Helper()
	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	return srv, []string{"NOMAD_ADDR=" + srv.URL()}
}

func mustCode(t *testing.T, r cfgResult, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

func gitopsRerunID(id string, n int) string { return gitops.RerunID(id, n) }

// recordRuns does what the controller does in a cluster: it writes the
// record of every caravan job that has none. apply registers jobs only.
func recordRuns(t *testing.T, env []string) {
	t.Helper()
	cl, err := nomad.New(nomad.Config{Getenv: envLookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.New(controller.Config{Nomad: cl}).Resync(context.Background()); err != nil {
		t.Fatalf("record the runs: %v", err)
	}
}
