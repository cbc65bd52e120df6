package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

const cloneHCL = `variable "epochs" {
  type    = number
  default = 3
}

experiment "train" {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "train --lr ${param.lr} --epochs ${var.epochs}"]
  env     = { LR_TAG = format("lr-%s", tostring(param.lr)) }
  params  = { seed = 1 }
  sweep {
    grid = { lr = [LRS] }
  }
  resources {
    gpus = 1
  }
}
`

// TestRerunParamClone: rerun -param expands the run's experiment again
// from the configuration it was applied from (a -var included) at the
// edited param, so args and env computed from it follow; the clone gets
// the ID the files would give that point, a record naming its origin and
// the change, and the language's checks on the param's name and type.
func TestRerunParamClone(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": strings.Replace(cloneHCL, "LRS", "0.1, 0.01", 1)})
	mustCode(t, execCaravan(t, env, "", "apply", dir, "-var", "epochs=5"), ExitOK)
	recordRuns(t, env)
	var orig string
	for _, r := range lsRows(t, env) {
		if paramOf(r, "lr", "") == "0.01" {
			orig = r.ID
		}
	}
	r := execCaravan(t, env, "", "rerun", orig, "-param", "lr=0.005")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "a clone of "+orig+" with lr 0.01 → 0.005")
	recordRuns(t, env)
	var clone string
	for _, id := range srv.JobIDs("default") {
		if j := jobOf(t, env, id); j.Meta[record.MetaClonedFrom] == orig {
			clone = id
			task := j.TaskGroups[0].Tasks[0]
			if args := task.Config["args"].([]any); args[1] != "train --lr 0.005 --epochs 5" || task.Env["LR_TAG"] != "lr-0.005" || task.Env["CARAVAN_PARAM_LR"] != "0.005" {
				t.Errorf("clone args %v env %v", args, task.Env)
			}
		}
	}
	if clone == "" {
		t.Fatalf("no clone of %s among %v", orig, srv.JobIDs("default"))
	}
	r = execCaravan(t, env, "", "show", clone)
	mustContain(t, r.stdout, "Cloned:     from "+orig+", with lr 0.01 → 0.005", "lr = 0.005")

	// Carried back into the files, the point is the clone: nothing to do.
	if err := os.WriteFile(filepath.Join(dir, "train.hcl"), []byte(strings.Replace(cloneHCL, "LRS", "0.1, 0.01, 0.005", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = execCaravan(t, env, "", "plan", dir, "-var", "epochs=5", "-detailed-exitcode")
	mustCode(t, r, ExitOK)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-param", "momentum=0.9"}, ExitError, `"momentum" is not one of them`},
		{[]string{"-param", "lr=fast"}, ExitUsage, `lr is a number in the run; "fast" is not a number`},
		{[]string{"-param", "lr=0.010"}, ExitUsage, "equal run"},
		{[]string{"-param", "lr"}, ExitUsage, "write -param name=value"},
	} {
		r := execCaravan(t, env, "", append([]string{"rerun", orig}, tc.args...)...)
		mustCode(t, r, tc.code)
		mustContain(t, r.stderr, tc.want)
	}
}

// jobOf reads a job from the fake Nomad env points at.
func jobOf(t *testing.T, env []string, id string) *api.Job {
	t.Helper()
	cl, err := nomad.New(nomad.Config{Getenv: envLookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	j, err := cl.Job(context.Background(), "default", id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
