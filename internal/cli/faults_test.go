package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Faults of Nomad, each through the fake's fault injection: every one gets
// a clear message and a non-zero exit, and nothing is half-applied without
// saying so.

func TestNomadDown(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	env := []string{"NOMAD_ADDR=http://127.0.0.1:1"}
	for _, args := range [][]string{{"plan", dir}, {"apply", dir}, {"ls"}, {"status"}, {"show", "train-1"}, {"stop", "train-1"}, {"rerun", "train-1"}, {"logs", "train-1"}} {
		r := execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "cannot reach Nomad at http://127.0.0.1:1") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestNomadSlow(t *testing.T) {
	srv, env := gitopsCluster(t)
	// Long enough that only the client's deadline ends the call, short
	// enough that the fake's shutdown never waits long on the held answer.
	srv.Delay("/v1/jobs", 5*time.Second)
	t.Cleanup(srv.ClearFaults)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"plan", dir}, Env{Stdout: &out, Stderr: &errb, Getenv: envLookup(env), Environ: func() []string { return env },
		Logger: slog.New(slog.NewTextHandler(&errb, nil))})
	if code != ExitError || !strings.Contains(errb.String(), "did not answer") {
		t.Errorf("slow Nomad: exit %d, stderr %q", code, errb.String())
	}
}

func envLookup(environ []string) func(string) string {
	return func(k string) string {
		for _, kv := range environ {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v
			}
		}
		return ""
	}
}

func TestServerErrorMidApplyThenFinish(t *testing.T) {
	srv, env := gitopsCluster(t)
	var registers atomic.Int32
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Path == "/v1/jobs" && registers.Add(1) > 4 {
			http.Error(w, "rpc error: raft apply failed", http.StatusInternalServerError)
			return true
		}
		return false
	})
	lrs := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", lrs...)})
	r := execCaravan(t, env, "", "apply", dir, "-parallelism", "1")
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "registered 4 of 10; 6 not submitted", "internal error", "rpc error: raft apply failed", "run apply again to finish")
	mustContain(t, r.stdout, "Apply incomplete: 4 registered")
	// Once as it happened, once in the closing summary; no third listing.
	if n := strings.Count(r.stderr, "raft apply failed"); n != 2 {
		t.Errorf("the failure is printed %d times, want 2:\n%s", n, r.stderr)
	}
	if n := len(srv.JobIDs("default")); n != 4 {
		t.Fatalf("Nomad has %d jobs, want exactly the 4 reported", n)
	}
	srv.ClearFaults()
	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Plan: 6 to create, 4 unchanged", "6 registered")
	if n := len(srv.JobIDs("default")); n != 10 {
		t.Fatalf("Nomad has %d jobs after the repeated apply", n)
	}
}

// TestApplyNeedsNoVariables: apply registers jobs and writes no variable,
// so a token that may not write variables can apply, and an apply killed
// half-way leaves nothing half-written; the controller records the runs.
func TestApplyNeedsNoVariables(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.2")})
	srv.Deny("/v1/var/caravan/projects/")
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "2 registered")
	srv.ClearFaults()
	recordRuns(t, env)
	for _, row := range lsRows(t, env) {
		if !row.HasRecord {
			t.Errorf("run %s has no record after the controller ran", row.ID)
		}
	}
	mustCode(t, execCaravan(t, env, "", "plan", dir, "-detailed-exitcode"), ExitOK)
}

func TestACLDenied(t *testing.T) {
	srv, env := gitopsCluster(t)
	srv.Deny("/v1/jobs")
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	for _, args := range [][]string{{"plan", dir}, {"apply", dir}, {"ls"}} {
		r := execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "permission denied by Nomad ACLs") || !strings.Contains(r.stderr, "NOMAD_TOKEN") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if len(srv.JobIDs("*")) != 0 {
		t.Error("something was registered")
	}
}

func TestUnknownNamespace(t *testing.T) {
	srv, env := gitopsCluster(t)
	hcl := strings.Replace(trainHCL("train", "0.1"), `pool    = "gpu"`, "pool    = \"gpu\"\n  namespace = \"ml\"", 1)
	dir := writeConfigDir(t, map[string]string{"train.hcl": hcl})
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, `namespace "ml" does not exist`, "registered 0 of 1")
	if len(srv.JobIDs("*")) != 0 {
		t.Error("something was registered")
	}
	r = execCaravan(t, append(env, "NOMAD_NAMESPACE=nope"), "", "show", "train-12345678")
	mustCode(t, r, ExitError)
}

func TestForeignJobCollision(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	r := execCaravan(t, env, "", "plan", dir, "-json")
	mustCode(t, r, ExitOK)
	id := jsonField(t, r.stdout, "id")
	// Someone else's job took the run's ID.
	c := srv.APIClient(t)
	j := api.NewBatchJob(id, id, "global", 50)
	tg := api.NewTaskGroup("x", 1)
	tg.AddTask(api.NewTask("x", "raw_exec"))
	j.AddTaskGroup(tg)
	if _, _, err := c.Jobs().Register(j, nil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", dir}, {"apply", dir}} {
		r = execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "caravan does not own it") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"show", id}, {"stop", id}, {"rerun", id}} {
		r = execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "not a caravan run") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if srv.JobStatus("default", id) == "dead" {
		t.Error("caravan stopped a job it does not own")
	}
}

func TestCorruptRecord(t *testing.T) {
	srv, env := gitopsCluster(t)
	srv.SetVariable("default", record.Ref{RunID: "old-1a2b3c4d"}.Path(), map[string]string{"record": "{not json"})
	for _, args := range [][]string{{"show", "old-1a2b3c4d"}, {"rerun", "old-1a2b3c4d"}, {"ls"}} {
		r := execCaravan(t, env, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "not a valid caravan record") || !strings.Contains(r.stderr, "caravan/runs/old-1a2b3c4d") {
			t.Errorf("caravan %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	r := execCaravan(t, env, "", "ls")
	mustContain(t, r.stdout, "old-1a2b3c4d", "unknown")
}

func jsonField(t *testing.T, doc, field string) string {
	t.Helper()
	i := strings.Index(doc, `"`+field+`": "`)
	if i < 0 {
		t.Fatalf("no %q in %s", field, doc)
	}
	rest := doc[i+len(field)+5:]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestApplyWarnsWithoutController: apply says so when no controller keeps
// records in the cluster, and is quiet when one beat lately.
func TestApplyWarnsWithoutController(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stderr, "Warning: no caravan controller has run in this cluster", "caravan controller")
	srv.SetVariable("default", controller.HeartbeatPath, map[string]string{"at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	r = execCaravan(t, env, "", "apply", writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.2")}))
	mustContain(t, r.stderr, "Warning: the caravan controller was last seen 1h ago")
	srv.SetVariable("default", controller.HeartbeatPath, map[string]string{"at": time.Now().UTC().Format(time.RFC3339)})
	r = execCaravan(t, env, "", "apply", writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.3")}))
	if strings.Contains(r.stderr, "Warning") {
		t.Errorf("apply warned although the controller beat just now:\n%s", r.stderr)
	}
}
