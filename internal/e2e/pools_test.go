//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/cli"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestPoolsAndExperimentsApart is the two-directory setup on a real Nomad:
// the operator's pools directory, which `caravan autoscale POOLSDIR` reads,
// and an experiments directory that only names its pool. The autoscaler
// creates the pool's node pool (unknown to Nomad before) and publishes the
// catalogue and policy; apply then maps the pool to that node pool and
// refuses what the policy forbids. The autoscaler keeps its variables in a
// namespace of its own, so that nothing it publishes reaches another
// suite's or a shared cluster's commands.
func TestPoolsAndExperimentsApart(t *testing.T) {
	s := newSuite(t)
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH: the autoscaler runs terraform/test-pool")
	}
	module, err := filepath.Abs("../../terraform/test-pool")
	if err != nil {
		t.Fatal(err)
	}
	ns := s.prefix + "-pools"
	nodePool := s.prefix + "-bar"
	ctx := context.Background()
	if _, err := s.cl.API().Namespaces().Register(&api.Namespace{Name: ns, Description: "caravan e2e"}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		t.Skipf("cannot create namespace %s for the autoscaler's variables (a management token is needed; the fake has no namespace API): %v", ns, err)
	}
	t.Cleanup(func() { s.cleanupPools(ns, nodePool) })

	pools := t.TempDir()
	writeFile(t, filepath.Join(pools, "pools.hcl"), `pool "`+s.prefix+`bar" {
  node_pool     = "`+nodePool+`"
  gpus_per_node = 2
  max_nodes     = 1
  terraform {
    module = "`+module+`"
  }
}

policy {
  allowed_drivers    = ["raw_exec"]
  allowed_node_pools = ["`+nodePool+`"]
}
`)
	exps := s.dir()
	bar := strings.Replace(s.experiment("bar", "true", 1, "1"), `pool    = "gpu"`, `pool    = "`+s.prefix+`bar"`, 1)
	writeFile(t, filepath.Join(exps, "bar.hcl"), bar)
	gpuDir := s.dir()
	writeFile(t, filepath.Join(gpuDir, "gpu.hcl"), s.experiment("gpu", "true", 1, "1"))

	t.Log("before the autoscaler ran, Nomad does not know the pool's node pool")
	r := s.must(1, "apply", exps, "-pools-namespace", ns)
	contains(t, r.stderr, "node pool")

	t.Log("caravan autoscale POOLSDIR creates it and publishes the catalogue")
	stop := s.autoscale(pools, "-namespace", ns, "-runs-namespace", s.ns, "-listen", "", "-state-dir", t.TempDir())
	defer stop()
	deadline := s.deadline(time.Minute)
	for {
		_, ok, err := autoscale.LoadCatalog(ctx, s.cl, ns)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the autoscaler published no catalogue in namespace %s within a minute (last error %v)", ns, err)
		}
		time.Sleep(pollEvery)
	}

	t.Log("caravan apply EXPDIR maps the pool to its node pool")
	r = s.must(0, "apply", exps, "-pools-namespace", ns)
	contains(t, r.stdout, "1 registered")
	jobs, err := s.cl.CaravanJobs(ctx, nomad.AllNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, j := range jobs {
		if j.Meta[record.MetaExperiment] == s.prefix+"bar" {
			found = true
			full, err := s.cl.Job(ctx, j.Namespace, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if full.NodePool == nil || *full.NodePool != nodePool {
				t.Errorf("run %s is in node pool %v, want %q", j.ID, full.NodePool, nodePool)
			}
		}
	}
	if !found {
		t.Fatal("the run of experiment bar is not in Nomad")
	}

	t.Log("the published policy refuses node pool gpu")
	r = s.must(1, "apply", gpuDir, "-pools-namespace", ns)
	contains(t, r.stderr, "Node pool not allowed", autoscale.CatalogVariable)
}

// autoscale runs `caravan autoscale` in-process until the returned stop is
// called, which waits for it to release its lease.
func (s *suite) autoscale(args ...string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv, Environ: os.Environ,
		Logger: slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	done := make(chan int, 1)
	go func() { done <- cli.Main(ctx, append([]string{"autoscale"}, args...), env) }()
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			s.t.Errorf("caravan autoscale exited %d:\n%s", code, errb.String())
		}
	}
}

// cleanupPools removes what the autoscaler made: this suite's jobs first
// (Nomad keeps a node pool that jobs name), the node pool, the variables
// in the autoscaler's namespace, and the namespace.
func (s *suite) cleanupPools(ns, nodePool string) {
	s.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wo := (&api.WriteOptions{}).WithContext(ctx)
	if _, err := s.cl.API().NodePools().Delete(nodePool, wo); err != nil && !strings.Contains(err.Error(), "404") {
		s.t.Errorf("cleanup: delete node pool %s: %v", nodePool, err)
	}
	metas, err := s.cl.Variables(ctx, ns, "caravan/")
	if err != nil {
		s.t.Errorf("cleanup: %v", err)
	}
	for _, m := range metas {
		if err := s.cl.DeleteVariable(ctx, ns, m.Path, nomad.NoCAS); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	if _, err := s.cl.API().Namespaces().Delete(ns, wo); err != nil {
		s.t.Errorf("cleanup: delete namespace %s: %v", ns, err)
	}
}
