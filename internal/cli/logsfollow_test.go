package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// startLogs runs `caravan logs -f` in the background and returns a
// channel with its result.
func startLogs(t *testing.T, env []string, args ...string) (<-chan cfgResult, *syncbuf.Buffer) {
	t.Helper()
	done := make(chan cfgResult, 1)
	errb := &syncbuf.Buffer{}
	go func() {
		var out bytes.Buffer
		e := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: errb, Getenv: envLookup(env),
			Environ: func() []string { return env }, Logger: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := Main(ctx, append([]string{"logs", "-f"}, args...), e)
		done <- cfgResult{out.String(), errb.String(), code}
	}()
	return done, errb
}

// TestLogsFollowQueuedRun: logs -f on a queued run waits for it to be
// placed and start, prints its log, and exits with its exit code once it
// ends, even though the log stream itself would go on.
func TestLogsFollowQueuedRun(t *testing.T) {
	defer func(d time.Duration) { logsPoll = d }(logsPoll)
	logsPoll = 5 * time.Millisecond
	srv, env, ids := appliedCluster(t)
	var queued, running []string
	for _, id := range ids {
		if len(srv.Allocs("default", id)) == 0 {
			queued = append(queued, id)
		} else {
			running = append(running, id)
		}
	}
	if len(queued) != 1 {
		t.Fatalf("want one queued run, have %v", queued)
	}
	done, stderr := startLogs(t, env, queued[0])
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "is queued") })
	srv.CompleteAlloc(srv.Allocs("default", running[0])[0].ID)
	waitFor(t, func() bool { return len(srv.Allocs("default", queued[0])) == 1 })
	a := srv.Allocs("default", queued[0])[0].ID
	srv.StartAlloc(a)
	srv.WriteLog(a, compile.TaskName, false, "epoch 1\n")
	srv.WriteLog(a, compile.TaskName, false, "epoch 2\n")
	srv.FailAlloc(a, 3)
	var r cfgResult
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f did not end when the run did")
	}
	mustCode(t, r, 3)
	if r.stdout != "epoch 1\nepoch 2\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	mustContain(t, r.stderr, "is queued")
}

// TestLogsFollowEndedRun: logs -f of a run that already ended prints its
// log and returns its exit code at once.
func TestLogsFollowEndedRun(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	a := srv.Allocs("default", ids[0])
	if len(a) == 0 {
		a = srv.Allocs("default", ids[1])
	}
	srv.StartAlloc(a[0].ID)
	srv.WriteLog(a[0].ID, compile.TaskName, false, "done\n")
	srv.EndAlloc(a[0].ID, nomadtest.TaskExit{Code: 2})
	done, _ := startLogs(t, env, a[0].JobID)
	r := <-done
	mustCode(t, r, 2)
	if r.stdout != "done\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}
