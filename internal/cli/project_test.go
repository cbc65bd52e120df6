package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/record"
)

// projectDir is a configuration directory of project with the train
// experiment swept over lrs.
func projectDir(t *testing.T, project string, lrs ...string) string {
	t.Helper()
	return writeBareConfigDir(t, map[string]string{
		"project.hcl": "caravan {\n  project = \"" + project + "\"\n}\n",
		"train.hcl":   trainHCL("train", lrs...),
	})
}

// TestProjectsNeverTouchEachOther: two teams declare the same experiment in
// one namespace. Their runs get different IDs, neither plan lists the
// other's runs, and B's apply -prune stops only B's.
func TestProjectsNeverTouchEachOther(t *testing.T) {
	srv, env := gitopsCluster(t)
	a := projectDir(t, "team-a", "0.1")
	b := projectDir(t, "team-b", "0.1", "0.2")
	mustCode(t, execCaravan(t, env, "", "apply", a), ExitOK)
	mustCode(t, execCaravan(t, env, "", "apply", b), ExitOK)
	aRuns := lsRows(t, env, "-project", "team-a")
	bRuns := lsRows(t, env, "-project", "team-b")
	if len(aRuns) != 1 || len(bRuns) != 2 || aRuns[0].Project != "team-a" {
		t.Fatalf("team-a has %d runs, team-b %d: %+v %+v", len(aRuns), len(bRuns), aRuns, bRuns)
	}
	for _, r := range bRuns {
		if r.ID == aRuns[0].ID {
			t.Fatalf("the same experiment in two projects gave the same run ID %s", r.ID)
		}
	}
	if n := len(srv.JobIDs("default")); n != 3 {
		t.Fatalf("%d jobs, want 3 (1 of team-a, 2 of team-b)", n)
	}

	// Team B drops its experiment: its plan lists its own runs as no
	// longer declared, never team A's.
	if err := os.WriteFile(filepath.Join(b, "train.hcl"), []byte(trainHCL("other", "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execCaravan(t, env, "", "plan", b, "-json")
	mustCode(t, r, ExitOK)
	var doc struct {
		Project     string
		Experiments []plan.ExperimentPlan
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Project != "team-b" {
		t.Errorf("plan -json names project %q, want team-b", doc.Project)
	}
	if strings.Contains(r.stdout, aRuns[0].ID) {
		t.Errorf("team-b's plan mentions team-a's run %s:\n%s", aRuns[0].ID, r.stdout)
	}
	r = execCaravan(t, env, "", "apply", b, "-prune")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, `project "team-b"`, "2 stopped")
	for _, row := range lsRows(t, env, "-all-projects") {
		stopped := row.State == record.StateStopped
		if row.Project == "team-a" && stopped {
			t.Errorf("team-b's apply -prune stopped team-a's run %s", row.ID)
		}
		if row.Project == "team-b" && row.Experiment == "train" && !stopped {
			t.Errorf("team-b's own run %s was not pruned: %s", row.ID, row.State)
		}
	}
}

// TestRunsOfNoProjectAreNeverPruned: a run submitted before projects
// existed (no project meta, record under caravan/runs/) is listed as of no
// project and no project's plan offers to stop it.
func TestRunsOfNoProjectAreNeverPruned(t *testing.T) {
	_, env := gitopsCluster(t)
	legacy := writeBareConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.5")})
	// `caravan run` of a file without a project submits a run of no
	// project, as every apply did before projects.
	mustCode(t, execCaravan(t, env, "", "run", filepath.Join(legacy, "train.hcl")), ExitOK)
	recordRuns(t, env)
	old := lsRows(t, env, "-all-projects")
	if len(old) != 1 || old[0].Project != "" || !old[0].HasRecord {
		t.Fatalf("runs %+v, want one run of no project with its record", old)
	}
	dir := projectDir(t, "vision", "0.1")
	r := execCaravan(t, env, "", "apply", dir, "-prune")
	mustCode(t, r, ExitOK)
	if strings.Contains(r.stdout, old[0].ID) {
		t.Errorf("project vision's apply mentions the run of no project %s:\n%s", old[0].ID, r.stdout)
	}
	if got := lsRows(t, env, "-project", "vision"); len(got) != 1 || got[0].ID == old[0].ID {
		t.Errorf("ls -project vision = %+v", got)
	}
}

func TestPlanNeedsAProject(t *testing.T) {
	_, env := gitopsCluster(t)
	dir := writeBareConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	for _, cmd := range []string{"plan", "apply"} {
		r := execCaravan(t, env, "", cmd, dir)
		mustCode(t, r, ExitError)
		mustContain(t, r.stderr, "Error: No project declared", "caravan {", `project = "my-team"`, "train.hcl:1")
	}
	r := execCaravan(t, env, "", "validate", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stderr, "Warning: No project declared")
	bad := writeBareConfigDir(t, map[string]string{"p.hcl": "caravan {\n  project = \"Team A\"\n}\n", "train.hcl": trainHCL("train", "0.1")})
	r = execCaravan(t, env, "", "validate", bad)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Invalid project name", `"Team A"`)
}

// TestCurrentProject: ls, status and cost act on the current project:
// -project, else CARAVAN_PROJECT, else the directory's caravan block;
// -all-projects lists every one.
func TestCurrentProject(t *testing.T) {
	_, env := gitopsCluster(t)
	a := projectDir(t, "team-a", "0.1")
	mustCode(t, execCaravan(t, env, "", "apply", a), ExitOK)
	mustCode(t, execCaravan(t, env, "", "apply", projectDir(t, "team-b", "0.1", "0.2")), ExitOK)
	count := func(env []string, args ...string) int { return len(lsRows(t, env, args...)) }
	if n := count(env, "-all-projects"); n != 3 {
		t.Errorf("ls -all-projects: %d runs, want 3", n)
	}
	if n := count(env, "-project", "team-b"); n != 2 {
		t.Errorf("ls -project team-b: %d runs, want 2", n)
	}
	if n := count(append(slices.Clone(env), "CARAVAN_PROJECT=team-a")); n != 1 {
		t.Errorf("ls with CARAVAN_PROJECT=team-a: %d runs, want 1", n)
	}
	t.Chdir(a)
	if n := count(env); n != 1 {
		t.Errorf("ls inside team-a's directory: %d runs, want 1", n)
	}
	r := execCaravan(t, env, "", "ls", "-project", "Bad Name")
	mustCode(t, r, ExitUsage)
}
