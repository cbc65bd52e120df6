package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

func TestRacingAppliesNeverDoubleSubmit(t *testing.T) {
	srv, env := gitopsCluster(t)
	lrs := make([]string, 40)
	for i := range lrs {
		lrs[i] = fmt.Sprint(i + 1)
	}
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", lrs...)})
	var wg sync.WaitGroup
	results := make([]cfgResult, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = execCaravan(t, env, "", "apply", dir, "-parallelism", "4")
		}()
	}
	wg.Wait()
	for _, r := range results {
		mustCode(t, r, ExitOK)
	}
	ids := srv.JobIDs("default")
	if len(ids) != 40 {
		t.Fatalf("%d jobs, want 40", len(ids))
	}
	recordRuns(t, env)
	c := srv.APIClient(t)
	for _, id := range ids {
		j, _, err := c.Jobs().Info(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *j.Version != 0 {
			t.Errorf("job %s registered %d extra times", id, *j.Version)
		}
		if srv.VariableItems("default", record.Ref{Project: testProject, RunID: id}.Path())["record"] == "" {
			t.Errorf("run %s has no record", id)
		}
	}
}

func TestLsListsRunsKnownOnlyFromRecords(t *testing.T) {
	_, env, ids := appliedCluster(t)
	cl, err := nomad.New(nomad.Config{Getenv: envLookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	// Nomad's garbage collector took the job; the record stays.
	if err := cl.PurgeJob(context.Background(), "", ids[0]); err != nil {
		t.Fatal(err)
	}
	var gone *query.Run
	rows := lsRows(t, env)
	for i := range rows {
		if rows[i].ID == ids[0] {
			gone = &rows[i]
		}
	}
	if len(rows) != 3 || gone == nil {
		t.Fatalf("ls lost the garbage-collected run: %+v", rows)
	}
	if gone.State != record.StateUnknown || gone.HasJob || !gone.HasRecord || gone.Pool != "gpu" || gone.GPUs != 1 || len(gone.Params) != 2 || gone.Submitted.IsZero() {
		t.Errorf("record-only row: %+v", *gone)
	}
	r := execCaravan(t, env, "", "show", ids[0])
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "gone from Nomad", "Params:")
	r = execCaravan(t, env, "", "logs", ids[0])
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "garbage-collected")
	// The run stays history: the plan does not recreate it.
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1", "0.01", "0.001")})
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitOK)
	// And a rerun works from the record alone.
	r = execCaravan(t, env, "", "rerun", ids[0])
	mustCode(t, r, ExitOK)
}

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b, false)
	for i := 1; i <= 100; i++ {
		p(gitops.Progress{Done: i, Total: 100, ID: fmt.Sprint("r", i), Action: "registered"})
	}
	if n := strings.Count(b.String(), "\n"); n != 10 {
		t.Errorf("plain progress for 100 runs printed %d lines, want 10:\n%s", n, b.String())
	}
	b.Reset()
	p = progressPrinter(&b, false)
	p(gitops.Progress{Done: 1, Total: 3, ID: "r1", Action: "registered"})
	p(gitops.Progress{Done: 2, Total: 3, ID: "r2", Err: errors.New("boom")})
	if got := b.String(); got != "registered r1 (1/3)\nfailed r2: boom\n" {
		t.Errorf("few runs: %q", got)
	}
	b.Reset()
	p = progressPrinter(&b, true)
	for i := 1; i <= 50; i++ {
		p(gitops.Progress{Done: i, Total: 50, Action: "registered"})
	}
	if !strings.Contains(b.String(), "\r[") || !strings.HasSuffix(b.String(), "50/50\n") {
		t.Errorf("terminal bar: %q", b.String()[max(0, b.Len()-80):])
	}
}

func TestLogsFollow(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	var alloc, id string
	for _, x := range ids {
		if a := srv.Allocs("default", x); len(a) > 0 {
			alloc, id = a[0].ID, x
			break
		}
	}
	srv.StartAlloc(alloc)
	srv.WriteLog(alloc, "train", false, "line 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"logs", id, "-f"}, Env{Stdout: out, Stderr: out, Getenv: envLookup(env), Environ: func() []string { return env }})
	}()
	waitFor(t, func() bool { return strings.Contains(out.String(), "line 1") })
	srv.WriteLog(alloc, "train", false, "line 2\n")
	waitFor(t, func() bool { return strings.Contains(out.String(), "line 2") })
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("logs -f ended with %d after interrupt: %s", code, out.String())
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
