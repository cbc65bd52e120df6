package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestPlanApplyCycle(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.01", "0.001")})

	r := execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitChanges)
	mustContain(t, r.stdout, `experiment "train": 3 to create`, "pool=gpu gpus=1 driver=raw_exec", "lr=0.1 seed=1",
		"Plan: 3 to create, 0 unchanged, 0 no longer declared.")

	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Apply complete: 3 registered")
	ids := srv.JobIDs("*")
	if len(ids) != 3 {
		t.Fatalf("Nomad has jobs %v, want 3", ids)
	}
	// apply wrote one thing per run, its job; the controller writes the
	// record from it.
	if n := srv.Requests("PUT /v1/var/"); n != 0 {
		t.Errorf("apply wrote %d variables; it registers jobs only", n)
	}
	recordRuns(t, env)
	for _, id := range ids {
		items := srv.VariableItems("default", record.Ref{Project: testProject, RunID: id}.Path())
		var rec record.Run
		if err := json.Unmarshal([]byte(items["record"]), &rec); err != nil {
			t.Fatalf("record of %s: %v (items %v)", id, err, items)
		}
		if rec.RunID != id || rec.Project != testProject || rec.Experiment != "train" || len(rec.Job) == 0 || rec.SubmittedAt.IsZero() || rec.Params["lr"] == nil {
			t.Errorf("record of %s incomplete: %+v", id, rec)
		}
	}

	registers := srv.Requests("PUT /v1/jobs")
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "No changes", "Plan: 0 to create, 3 unchanged, 0 no longer declared.")
	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Nothing to apply.")
	if n := srv.Requests("PUT /v1/jobs"); n != registers {
		t.Errorf("idempotent apply registered %d jobs", n-registers)
	}

	// Drop one sweep point: no longer declared, stopped only with -prune.
	os.WriteFile(filepath.Join(dir, "train.hcl"), []byte(trainHCL("train", "0.1", "0.01")), 0o644)
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitChanges)
	mustContain(t, r.stdout, "Plan: 0 to create, 2 unchanged, 1 no longer declared (1 still active", "apply -prune stops it")
	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	if strings.Contains(r.stdout, "1 stopped") {
		t.Fatal("apply without -prune stopped a run")
	}
	r = execCaravan(t, env, "", "apply", dir, "-prune")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 stopped")
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 no longer declared.")
	if len(srv.JobIDs("*")) != 3 {
		t.Error("prune purged a job; history must stay")
	}
}

func TestPlanFormats(t *testing.T) {
	_, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.2")})
	r := execCaravan(t, env, "", "plan", dir, "-json")
	mustCode(t, r, ExitOK)
	var doc struct {
		Changes     bool `json:"changes"`
		Counts      struct{ Create int }
		Experiments []struct {
			Name   string
			Create []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-json: %v\n%s", err, r.stdout)
	}
	if !doc.Changes || doc.Counts.Create != 2 || doc.Experiments[0].Create[0]["job"] != nil {
		t.Errorf("-json document: %+v", doc)
	}
	r = execCaravan(t, env, "", "plan", dir, "-markdown")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "### caravan plan", "| `train` | 2 | 0 | 0 | 0 |", "<details>")
	r = execCaravan(t, env, "", "plan", dir, "-markdown", "-json")
	mustCode(t, r, ExitUsage)
}

func TestSavedPlan(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.2")})
	planFile := filepath.Join(t.TempDir(), "plan.json")
	r := execCaravan(t, env, "", "plan", dir, "-out", planFile)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "caravan apply -plan "+planFile)
	// The saved plan is applied without the files.
	os.RemoveAll(dir)
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "2 registered")
	if len(srv.JobIDs("*")) != 2 {
		t.Fatalf("jobs: %v", srv.JobIDs("*"))
	}
	// Applying it again: Nomad changed since the plan was made.
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "saved plan is stale", "plan -out FILE")

	r = execCaravan(t, env, "", "apply", "-plan", planFile, dir)
	mustCode(t, r, ExitUsage)
	os.WriteFile(planFile, []byte("{}"), 0o644)
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "version")
}

// TestSavedPlanEditedByHand: a job edited inside a saved plan (here its
// driver and command, as someone with write access to a CI artifact
// could) is refused by apply -plan with what changed and the fix, and
// nothing is registered; the untouched plan then applies. The plan file is
// readable by its owner only.
func TestSavedPlanEditedByHand(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	planFile := filepath.Join(t.TempDir(), "plan.json")
	mustCode(t, execCaravan(t, env, "", "plan", dir, "-out", planFile), ExitOK)
	if fi, err := os.Stat(planFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v (err %v); want 0600: it holds the jobs' env", fi.Mode().Perm(), err)
	}
	orig, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), `"Driver":"raw_exec"`, `"Driver":"docker"`, 1)
	if edited == string(orig) {
		t.Fatalf("test setup: no raw_exec driver in the plan:\n%s", orig)
	}
	os.WriteFile(planFile, []byte(edited), 0o600)
	r := execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "changed after caravan plan wrote it", "run train-", "caravan plan -out FILE")
	if n := srv.Requests("PUT /v1/jobs"); n != 0 {
		t.Fatalf("an edited plan registered %d jobs", n)
	}
	os.WriteFile(planFile, orig, 0o600)
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 registered")
}

// TestSignedPlanKey: with CARAVAN_PLAN_KEY, plan -out signs the plan and
// apply -plan needs the same key.
func TestSignedPlanKey(t *testing.T) {
	_, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	planFile := filepath.Join(t.TempDir(), "plan.json")
	signed := append(append([]string(nil), env...), "CARAVAN_PLAN_KEY=k1")
	mustCode(t, execCaravan(t, signed, "", "plan", dir, "-out", planFile), ExitOK)
	r := execCaravan(t, append(append([]string(nil), env...), "CARAVAN_PLAN_KEY=k2"), "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "another CARAVAN_PLAN_KEY")
	r = execCaravan(t, env, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "CARAVAN_PLAN_KEY is not set")
	r = execCaravan(t, signed, "", "apply", "-plan", planFile)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 registered")
}

func TestPlanAndApplyRefuseInvalidConfig(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"bad.hcl": `experiment "x" { pool = "gpu"  bogus = 1 }`})
	for _, args := range [][]string{{"plan", dir, "-detailed-exitcode"}, {"apply", dir}} {
		r := execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "bad.hcl") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if srv.Requests("PUT /v1/jobs") != 0 {
		t.Error("an invalid configuration registered jobs")
	}
	mustCode(t, execCaravan(t, env, "", "plan", dir, "extra"), ExitUsage)
	mustCode(t, execCaravan(t, env, "", "apply", dir, "-parallelism", "0"), ExitUsage)
	mustCode(t, execCaravan(t, env, "", "plan", writeConfigDir(t, map[string]string{"t.hcl": trainHCL("t", "1")}), "-experiment", "nope"), ExitError)
}
