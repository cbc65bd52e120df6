package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// operatorDir is an operator's pools directory: pool gpu, autoscaled
// through terraform/test-pool into node pool gpu-new (which Nomad does not
// know yet), and a policy that allows exec and raw_exec in gpu-new only.
func operatorDir(t *testing.T) string {
	t.Helper()
	module, err := filepath.Abs("../../terraform/test-pool")
	if err != nil {
		t.Fatal(err)
	}
	return writeConfigDir(t, map[string]string{
		"pools.hcl": `pool "gpu" {
  node_pool     = "gpu-new"
  gpus_per_node = 2
  max_nodes     = 2
  terraform {
    module = "` + module + `"
  }
}
`,
		"policy.hcl": `policy {
  allowed_drivers    = ["exec", "raw_exec"]
  allowed_node_pools = ["gpu-new"]
}
`})
}

// TestPoolsAndExperimentsApart: pools in the operator's directory, which
// `caravan autoscale POOLSDIR` scales; experiments in another, which only
// name them. The autoscaler creates the pool's missing node pool and
// publishes the catalogue; validate, plan and apply of the experiments
// read it from Nomad (or from -pools DIR offline), map the pool to its
// node pool, and enforce the policy.
func TestPoolsAndExperimentsApart(t *testing.T) {
	if _, err := terraform.FindBinary(""); err != nil {
		t.Skipf("needs terraform: %v", err)
	}
	pools := operatorDir(t)
	srv := nomadtest.New(t)
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	nc, err := nomad.New(nomad.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	exps := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	outside := writeConfigDir(t, map[string]string{"cpu.hcl": strings.Replace(trainHCL("cpu", "0.1"), `pool    = "gpu"`, `pool    = "cpu"`, 1)})

	// Before the autoscaler ran, Nomad knows neither the pool nor the
	// node pool: the run maps to node pool "gpu", which does not exist.
	r := execCaravan(t, env, "", "apply", exps)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "node pool")

	_, errb, stop := startAutoscale(t, pools, "-listen", "", "-state-dir", t.TempDir(), "-address", srv.URL())
	defer stop()
	waitUntil(t, "the catalogue is published", errb, func() bool {
		_, ok, _ := autoscale.LoadCatalog(context.Background(), nc, "default")
		return ok
	})

	r = execCaravan(t, env, "", "validate", exps)
	mustCode(t, r, ExitOK)
	r = execCaravan(t, env, "", "apply", exps)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 registered")
	ids := srv.JobIDs("*")
	if len(ids) != 1 {
		t.Fatalf("jobs %v", ids)
	}
	job, err := nc.Job(context.Background(), "default", ids[0])
	if err != nil || job.NodePool == nil || *job.NodePool != "gpu-new" {
		t.Fatalf("the run is not in the catalogue's node pool: %v, %v", job.NodePool, err)
	}

	// The policy, from Nomad: node pool cpu is not allowed.
	for _, args := range [][]string{{"validate", outside}, {"plan", outside}, {"apply", outside}} {
		r = execCaravan(t, env, "", args...)
		mustCode(t, r, ExitError)
		mustContain(t, r.stderr, "Node pool not allowed", `node pool "cpu"`, autoscale.CatalogVariable)
	}
	// Offline, from the pools directory itself.
	r = execCaravan(t, nil, "", "validate", outside, "-pools", pools)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Node pool not allowed", "policy.hcl:1")
	mustCode(t, execCaravan(t, nil, "", "validate", exps, "-pools", pools), ExitOK)

	// A saved plan made against a looser catalogue is held to the
	// operator's policy at apply.
	loose := writeConfigDir(t, map[string]string{"pools.hcl": "pool \"gpu\" {\n  node_pool = \"gpu-new\"\n}\n"})
	planFile := filepath.Join(t.TempDir(), "plan.json")
	mustCode(t, execCaravan(t, env, "", "plan", outside, "-pools", loose, "-out", planFile), ExitOK)
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "breaks the policy", `node pool "cpu" is not allowed`, "caravan plan -out FILE")
	if n := len(srv.JobIDs("*")); n != 1 {
		t.Errorf("a refused apply registered jobs: %d in Nomad", n)
	}
	if c := stop(); c != ExitOK {
		t.Fatalf("autoscale exit %d\n%s", c, errb.String())
	}
}

// TestExperimentsCannotDeclareInfrastructure: a pool with a terraform
// block, or a policy, in an experiments directory is an error of validate
// (and so of plan and apply) that says where they belong; the autoscaler
// refuses experiments in its pools directory.
func TestExperimentsCannotDeclareInfrastructure(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{
		"train.hcl":  trainHCL("train", "0.1"),
		"pools.hcl":  "pool \"gpu\" {\n  max_nodes = 2\n  terraform {\n    module = \"/tmp/anything\"\n  }\n}\n",
		"policy.hcl": "policy {\n  allowed_drivers = [\"raw_exec\"]\n}\n",
	})
	r := execCaravan(t, nil, "", "validate", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Pool infrastructure in an experiments directory", "caravan autoscale POOLSDIR", "Policy in an experiments directory")

	r = execCaravan(t, nil, "", "autoscale", writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")}), "-listen", "", "-dry-run")
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Experiments in the pools directory")
}

// TestValidateWithoutCatalogue: validate reads the catalogue only when
// told where Nomad is, and a catalogue it cannot read is a warning there;
// plan, which enforces the policy, stops on it.
func TestValidateWithoutCatalogue(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	mustCode(t, execCaravan(t, nil, "", "validate", dir), ExitOK)
	srv.Deny("/v1/var/" + autoscale.CatalogVariable)
	r := execCaravan(t, env, "", "validate", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stderr, "Warning: Pool catalogue unavailable", "-pools DIR")
	r = execCaravan(t, env, "", "plan", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Error: Pool catalogue unavailable", "cannot enforce the operator's policy")
}
