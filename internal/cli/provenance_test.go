package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

// gitDir makes dir a git repository with everything in it committed.
func gitDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"}} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

const sourceHCL = `experiment "train" {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "cat marker.txt"]
  source {
    git    = "https://git.example/acme/models.git"
    commit = "4f2a9c1e"
    path   = "sub"
  }
  timeout = "5m"
  resources {
    gpus = 1
  }
}
`

func TestApplyRefusesDirtyDirectory(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": sourceHCL})
	gitDir(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "train.hcl"), []byte(strings.Replace(sourceHCL, "5m", "6m", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "uncommitted changes", "-allow-dirty")
	if n := srv.Requests("PUT /v1/jobs"); n != 0 {
		t.Fatalf("apply of a dirty directory registered %d jobs", n)
	}
	r = execCaravan(t, env, "", "apply", dir, "-allow-dirty")
	mustCode(t, r, ExitOK)
	recordRuns(t, env)
	id := srv.JobIDs("*")[0]
	r = execCaravan(t, env, "", "show", id)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "(dirty)")
}

func TestRecordSaysWhatRan(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": sourceHCL})
	gitDir(t, dir)
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	recordRuns(t, env)
	id := srv.JobIDs("*")[0]
	r := execCaravan(t, env, "", "show", id)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout,
		"Source:     https://git.example/acme/models.git at commit 4f2a9c1e, in sub",
		"Software:   caravan "+Version+", Nomad 2.0.5")
	if strings.Contains(r.stdout, "(dirty)") {
		t.Errorf("a clean directory shows as dirty:\n%s", r.stdout)
	}
	r = execCaravan(t, env, "", "show", id, "-json")
	mustContain(t, r.stdout, `"source": {`, `"commit": "4f2a9c1e"`, `"caravan_version": "`+Version+`"`, `"nomad_version": "2.0.5"`)

	// rerun submits the recorded job: the same commit and path.
	mustCode(t, execCaravan(t, env, "", "rerun", id), ExitOK)
	job, _, err := srv.APIClient(t).Jobs().Info(gitopsRerunID(id, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := job.TaskGroups[0].Tasks[0].Artifacts
	if len(a) != 1 || a[0].GetterOptions["ref"] != "4f2a9c1e" || job.Meta[record.MetaSourceCommit] != "4f2a9c1e" || job.TaskGroups[0].Tasks[0].Config["work_dir"] != "${NOMAD_TASK_DIR}/src/sub" {
		t.Errorf("rerun fetches %+v", job.TaskGroups[0].Tasks[0])
	}
}

func TestApplyRefusesTimeoutOnOldNomad(t *testing.T) {
	srv, env := gitopsCluster(t)
	srv.SetServerVersion("1.10.5")
	dir := writeConfigDir(t, map[string]string{"train.hcl": sourceHCL})
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "Nomad 1.10.5", "max_run_duration", "timeout of 1 run")
	if n := srv.Requests("PUT /v1/jobs"); n != 0 {
		t.Fatalf("registered %d jobs whose timeout Nomad would drop", n)
	}
	srv.SetServerVersion("2.0.2")
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
}
