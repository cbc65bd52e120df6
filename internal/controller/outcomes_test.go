package controller

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestOutcomeOfARunThatEnded: once a run's job is dead, the controller
// writes how it ended beside its record (state, exit code, reason, the
// end of its logs, who stopped it and why), once; a run still running
// gets none.
func TestOutcomeOfARunThatEnded(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	for _, id := range []string{"train-00000001", "train-00000002"} {
		if _, err := c.CreateJob(ctx, caravanJob(id, "vision")); err != nil {
			t.Fatal(err)
		}
	}
	failed := srv.Allocs("default", "train-00000001")[0].ID
	srv.StartAlloc(failed)
	srv.WriteLog(failed, "train", false, "epoch 1\nepoch 2\n")
	srv.WriteLog(failed, "train", true, "Traceback (most recent call last):\nValueError: bad lr\n")
	srv.FailAlloc(failed, 3)
	ref := record.Ref{Namespace: "default", Project: "vision", RunID: "train-00000001"}
	stop, _ := json.Marshal(Stop{By: "alice", Reason: "bad lr"})
	srv.SetVariable("default", ref.Path()+StopSuffix, map[string]string{"stop": string(stop)})
	srv.StartAlloc(srv.Allocs("default", "train-00000002")[0].ID)

	ctl := New(Config{Nomad: c})
	res, err := ctl.Resync(ctx)
	if err != nil || res.Outcomes != 1 || res.Records != 2 {
		t.Fatalf("resync: %+v %v; want 2 records and 1 outcome", res, err)
	}
	o, err := c.Outcome(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if o.State != record.StateFailed || o.ExitCode == nil || *o.ExitCode != 3 || o.Reason == "" || o.Summary == "" ||
		!strings.Contains(o.Stdout, "epoch 2") || !strings.Contains(o.Stderr, "ValueError: bad lr") ||
		o.StoppedBy != "alice" || o.StopReason != "bad lr" || o.Attempts != 1 || o.AllocID != failed {
		t.Errorf("outcome: %+v", o)
	}
	if _, err := c.Outcome(ctx, record.Ref{Namespace: "default", Project: "vision", RunID: "train-00000002"}); err == nil {
		t.Error("a running run has an outcome")
	}
	refs, _ := c.RecordRefs(ctx, "default", nomad.RecordScope{All: true})
	for _, r := range refs {
		if r.Ended != (r.RunID == "train-00000001") {
			t.Errorf("listing says run %s ended=%v", r.RunID, r.Ended)
		}
	}
	if res, err := ctl.Resync(ctx); err != nil || res.Outcomes != 0 {
		t.Errorf("second resync wrote %d outcomes (%v), want 0", res.Outcomes, err)
	}
}

// TestNoOutcomeWhileTheAllocationIsKilled: Nomad reports a stopped job
// dead at once, while its allocation is still being killed; the outcome
// waits for the allocation to end, so it says "stopped", not "running".
func TestNoOutcomeWhileTheAllocationIsKilled(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	const id = "train-00000003"
	if _, err := c.CreateJob(ctx, caravanJob(id, "vision")); err != nil {
		t.Fatal(err)
	}
	alloc := srv.Allocs("default", id)[0].ID
	srv.StartAlloc(alloc)
	// The job as Nomad shows it right after `caravan stop`: dead and
	// stopped, its allocation still running.
	var inner atomic.Bool
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/job/"+id || inner.Load() {
			return false
		}
		inner.Store(true)
		defer inner.Store(false)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		var job map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &job); err != nil {
			t.Error(err)
			return false
		}
		job["Status"], job["Stop"] = "dead", true
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(job)
		return true
	})
	ctl := New(Config{Nomad: c})
	ref := record.Ref{Namespace: "default", Project: "vision", RunID: id}
	if err := ctl.finishJob(ctx, jobRef{ns: "default", id: id}); err != nil {
		t.Fatal(err)
	}
	if o, err := c.Outcome(ctx, ref); err == nil {
		t.Fatalf("an outcome while the allocation runs: %+v", o)
	}
	srv.ClearFaults()
	if _, err := c.StopJob(ctx, "default", id); err != nil {
		t.Fatal(err)
	}
	if err := ctl.finishJob(ctx, jobRef{ns: "default", id: id}); err != nil {
		t.Fatal(err)
	}
	if o, err := c.Outcome(ctx, ref); err != nil || o.State != record.StateStopped {
		t.Errorf("outcome once the allocation ended: %+v %v", o, err)
	}
}
