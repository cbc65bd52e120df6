package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// appliedCluster applies three 1-GPU runs to a fake with one 2-GPU node:
// two are placed, one waits for a device.
func appliedCluster(t *testing.T) (*nomadtest.Server, []string, []string) {
	t.Helper()
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.01", "0.001")})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	recordRuns(t, env)
	return srv, env, srv.JobIDs("default")
}

func lsRows(t *testing.T, env []string, args ...string) []query.Run {
	t.Helper()
	r := execCaravan(t, env, "", append([]string{"ls", "-json"}, args...)...)
	mustCode(t, r, ExitOK)
	var rows []query.Run
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("ls -json: %v\n%s", err, r.stdout)
	}
	return rows
}

func TestLsStatusShowLogs(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	var placed []string
	for _, id := range ids {
		if a := srv.Allocs("default", id); len(a) > 0 {
			placed = append(placed, id)
			srv.StartAlloc(a[0].ID)
			srv.WriteLog(a[0].ID, compile.TaskName, false, "epoch 1 loss 0.5\n")
			srv.WriteLog(a[0].ID, compile.TaskName, true, "warning: slow\n")
		}
	}
	if len(placed) != 2 {
		t.Fatalf("fake placed %d runs, want 2", len(placed))
	}

	r := execCaravan(t, env, "", "ls")
	mustCode(t, r, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("ls printed:\n%s", r.stdout)
	}
	for _, l := range lines {
		if len(l) > lsWidth {
			t.Errorf("line wider than %d: %q", lsWidth, l)
		}
	}
	mustContain(t, r.stdout, "running", "queued", "gpu", "lr=0.1")

	states := map[record.State]int{}
	for _, row := range lsRows(t, env) {
		states[row.State]++
	}
	if states[record.StateRunning] != 2 || states[record.StateQueued] != 1 {
		t.Errorf("states = %v", states)
	}
	if rows := lsRows(t, env, "-state", "queued"); len(rows) != 1 {
		t.Errorf("-state queued gave %d rows", len(rows))
	}
	if rows := lsRows(t, env, "-experiment", "nope"); len(rows) != 0 {
		t.Errorf("-experiment nope gave %d rows", len(rows))
	}
	if rows := lsRows(t, env, "-pool", "gpu"); len(rows) != 3 {
		t.Errorf("-pool gpu gave %d rows", len(rows))
	}
	mustCode(t, execCaravan(t, env, "", "ls", "-state", "bogus"), ExitUsage)

	r = execCaravan(t, env, "", "status")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "pool gpu", "queued:   1 run waiting for 1 GPU", "running:  2 runs holding 2 GPUs",
		"nodes:    1 ready, 0 draining, 0 down; 0 of 2 GPUs free", "oldest:", "why:")

	r = execCaravan(t, env, "", "show", placed[0])
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "State:      running", srv.URL()+"/ui/jobs/"+placed[0]+"@default", "Spec hash:", "lr = ", "Allocations:", "task train: running")
	mustContain(t, r.stdout, "Pool:       gpu (node pool gpu), 1 GPU\n")
	r = execCaravan(t, env, "", "show", placed[0], "-json")
	mustCode(t, r, ExitOK)
	var doc showDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Record == nil || len(doc.Allocations) != 1 {
		t.Fatalf("show -json: %v %+v", err, doc)
	}

	for _, id := range ids {
		if slices.Contains(placed, id) {
			continue
		}
		r = execCaravan(t, env, "", "show", id, "-json")
		mustCode(t, r, ExitOK)
		mustContain(t, r.stdout, `"state": "queued"`, `"allocations": []`)
	}

	r = execCaravan(t, env, "", "logs", placed[0])
	mustCode(t, r, ExitOK)
	if r.stdout != "epoch 1 loss 0.5\n" {
		t.Errorf("logs = %q", r.stdout)
	}
	r = execCaravan(t, env, "", "logs", placed[0], "-stderr")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "warning: slow")
	mustCode(t, execCaravan(t, env, "", "show", "train-00000000"), ExitError)
}

func TestFailedRunShowsExitCode(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	var failed string
	for _, id := range ids {
		if a := srv.Allocs("default", id); len(a) > 0 {
			srv.FailAlloc(a[0].ID, 3)
			failed = id
			break
		}
	}
	r := execCaravan(t, env, "", "show", failed)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "State:      failed", "exit code 3", "Terminated")
}

func TestStopAndRerun(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	r := execCaravan(t, env, "", "stop", ids[0])
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Stopped run "+ids[0])
	r = execCaravan(t, env, "", "stop", ids[0])
	mustContain(t, r.stdout, "already stopped")

	r = execCaravan(t, env, "", "rerun", ids[0])
	mustCode(t, r, ExitOK)
	id1 := gitopsRerunID(ids[0], 1)
	mustContain(t, r.stdout, "Submitted "+id1+", a rerun of "+ids[0])
	r = execCaravan(t, env, "", "rerun", ids[0])
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, gitopsRerunID(ids[0], 2))

	recordRuns(t, env)
	var orig, again record.Run
	json.Unmarshal([]byte(srv.VariableItems("default", record.Ref{Project: testProject, RunID: ids[0]}.Path())["record"]), &orig)
	json.Unmarshal([]byte(srv.VariableItems("default", record.Ref{Project: testProject, RunID: id1}.Path())["record"]), &again)
	if again.RerunOf != ids[0] || again.SpecHash != orig.SpecHash || again.SubmittedAt.IsZero() || again.Extra["origin"] != record.OriginRerun {
		t.Errorf("rerun record: rerun_of %q spec_hash %q", again.RerunOf, again.SpecHash)
	}
	rows := lsRows(t, env)
	var found bool
	for _, row := range rows {
		if row.ID == id1 {
			found = row.RerunOf == ids[0]
		}
	}
	if !found {
		t.Errorf("ls lacks the rerun with rerun_of: %+v", rows)
	}

	// Reruns are ad hoc: the directory's plan does not list them.
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.01", "0.001")})
	r = execCaravan(t, env, "", "plan", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Plan: 0 to create, 3 unchanged, 0 no longer declared.")

	r = execCaravan(t, env, "", "stop", "-experiment", "train")
	mustCode(t, r, ExitOK)
	for _, id := range srv.JobIDs("default") {
		if st := srv.JobStatus("default", id); st != "dead" {
			t.Errorf("%s is %s after stop -experiment", id, st)
		}
	}
	r = execCaravan(t, env, "", "stop", "-experiment", "train")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, `No pending or running runs of experiment "train"`)
	r = execCaravan(t, env, "", "stop", "-experiment", "trian")
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, `no runs of experiment "trian" in Nomad at `+srv.URL(), "caravan ls")
	mustCode(t, execCaravan(t, env, "", "stop"), ExitUsage)
	mustCode(t, execCaravan(t, env, "", "stop", "x", "-experiment", "y"), ExitUsage)
}

func TestStopFinishedRun(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	var done string
	for _, id := range ids {
		if a := srv.Allocs("default", id); len(a) > 0 {
			srv.StartAlloc(a[0].ID)
			srv.CompleteAlloc(a[0].ID)
			done = id
			break
		}
	}
	if st := srv.JobStatus("default", done); st != "dead" {
		t.Fatalf("completed run's job is %q, want dead", st)
	}
	r := execCaravan(t, env, "", "stop", done)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Run "+done+" has already ended; nothing to stop")
	if strings.Contains(r.stdout, "Stopped run") {
		t.Errorf("stop of a finished run claims to have stopped it:\n%s", r.stdout)
	}
	if rows := lsRows(t, env, "-state", "complete"); len(rows) != 1 || rows[0].ID != done {
		t.Errorf("finished run after stop: ls -state complete = %+v", rows)
	}
}

func TestRunFile(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"a.hcl": trainHCL("alpha", "1", "2") + trainHCL("beta", "3")})
	r := execCaravan(t, env, "", "run", filepath.Join(dir, "a.hcl"), "-parallelism", "0")
	mustCode(t, r, ExitUsage)
	mustContain(t, r.stderr, "-parallelism is 0; give at least 1")
	if ids := srv.JobIDs("default"); len(ids) != 0 {
		t.Fatalf("run with a refused flag submitted %v", ids)
	}
	r = execCaravan(t, env, "", "run", filepath.Join(dir, "a.hcl"), "-experiment", "beta")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "1 registered")
	ids := srv.JobIDs("default")
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "beta-") {
		t.Fatalf("jobs %v", ids)
	}
	r = execCaravan(t, env, "", "run", filepath.Join(dir, "a.hcl"))
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "2 registered")
	mustCode(t, execCaravan(t, env, "", "run", filepath.Join(dir, "a.hcl"), "-experiment", "gamma"), ExitError)
}

func TestLogsOfAStartingRunAndAnUnknownTask(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	var placed []string
	for _, id := range ids {
		if len(srv.Allocs("default", id)) > 0 {
			placed = append(placed, id)
		}
	}
	if len(placed) != 2 {
		t.Fatalf("fake placed %d runs, want 2", len(placed))
	}
	r := execCaravan(t, env, "", "logs", placed[0])
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "run "+placed[0]+" is starting", "has not started yet", "try again")

	srv.StartAlloc(srv.Allocs("default", placed[1])[0].ID)
	r = execCaravan(t, env, "", "logs", placed[1], "-task", "trian")
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, `run `+placed[1]+` has no task "trian" (its tasks: `+compile.TaskName+`)`, "-task")
}

func TestUnknownNamespaceIsNotAnEmptyList(t *testing.T) {
	srv, env, _ := appliedCluster(t)
	for _, args := range [][]string{{"ls", "-namespace", "nope"}, {"status", "-namespace", "nope"}, {"stop", "-experiment", "train", "-namespace", "nope"}} {
		r := execCaravan(t, env, "", args...)
		mustCode(t, r, ExitError)
		mustContain(t, r.stderr, `namespace "nope" does not exist in Nomad at `+srv.URL(), "-namespace")
	}
	r := execCaravan(t, env, "", "ls", "-namespace", "default")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "train-")
}
