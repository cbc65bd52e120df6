package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

func TestApplyRegistersRecordsAndIsIdempotent(t *testing.T) {
	f := newFake()
	d := desired("a", 40)
	var progress []Progress
	res := Apply(context.Background(), f, Plan(d, f.actual(), Options{}), ApplyOptions{
		Parallelism: 4, SubmittedBy: "alice", Now: fixedNow,
		Progress: func(p Progress) { progress = append(progress, p) },
	})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Registered) != 40 || len(f.jobs) != 40 || len(f.records) != 40 {
		t.Fatalf("registered %d, jobs %d, records %d; want 40 each", len(res.Registered), len(f.jobs), len(f.records))
	}
	r := f.records["a-00000007"]
	if r.SubmittedBy != "alice" || !r.SubmittedAt.Equal(t0) || r.Extra["origin"] != OriginApply || len(r.Job) == 0 {
		t.Errorf("record not stamped: %+v", r)
	}
	if f.jobs["a-00000007"].Meta[MetaOrigin] != OriginApply {
		t.Error("job meta lacks its origin")
	}
	// The record keeps the job exactly as registered: rerun submits it.
	var recorded api.Job
	if err := json.Unmarshal(r.Job, &recorded); err != nil {
		t.Fatalf("record's job: %v", err)
	}
	if !reflect.DeepEqual(&recorded, f.jobs["a-00000007"]) {
		t.Errorf("record's job differs from the registered one:\n%s", r.Job)
	}
	if d[7].Job.Meta[MetaOrigin] != "" {
		t.Error("Apply mutated the plan's job")
	}
	if len(progress) != 40 || progress[39].Done != 40 || progress[39].Total != 40 {
		t.Errorf("progress calls = %d, last %+v", len(progress), progress[len(progress)-1])
	}

	again := Plan(d, f.actual(), Options{})
	if again.Counts().HasChanges() {
		t.Fatalf("second plan has changes: %+v", again.Counts())
	}
	before := f.creates
	res = Apply(context.Background(), f, again, ApplyOptions{})
	if res.Err() != nil || len(res.Registered) != 0 || f.creates != before {
		t.Fatalf("second apply did something: %+v (creates %d → %d)", res, before, f.creates)
	}
}

func TestApplyRaceIsNotADoubleSubmit(t *testing.T) {
	f := newFake()
	d := desired("a", 3)
	p := Plan(d, nil, Options{})
	// Another apply registered run 1 after our plan was made.
	f.jobs["a-00000001"] = d[1].Job
	res := Apply(context.Background(), f, p, ApplyOptions{Parallelism: 1})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Present, []string{"a-00000001"}) || len(res.Registered) != 2 {
		t.Fatalf("present %v registered %v", res.Present, res.Registered)
	}
	if _, ok := f.records["a-00000001"]; ok {
		t.Error("the loser of a race wrote the record")
	}
}

func TestApplyStopsAtFirstFailureAndReportsPrecisely(t *testing.T) {
	f := newFake()
	f.failJobAt = 5
	d := desired("a", 100)
	res := Apply(context.Background(), f, Plan(d, nil, Options{}), ApplyOptions{Parallelism: 1})
	err := res.Err()
	if err == nil {
		t.Fatal("no error")
	}
	if len(res.Registered) != 4 || len(res.NotSubmitted) != 95 {
		t.Fatalf("registered %d, not submitted %d", len(res.Registered), len(res.NotSubmitted))
	}
	for _, want := range []string{"registered 4 of 100", "96 not submitted", "internal error: boom", "run apply again to finish"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The repeated apply finishes the work.
	f.failJobAt = 0
	res = Apply(context.Background(), f, Plan(d, f.actual(), Options{}), ApplyOptions{})
	if res.Err() != nil || len(res.Registered) != 96 || len(f.jobs) != 100 || len(f.records) != 100 {
		t.Fatalf("second apply: %v, registered %d, jobs %d", res.Err(), len(res.Registered), len(f.jobs))
	}
}

func TestApplyParallelFailureBoundsWork(t *testing.T) {
	f := newFake()
	f.failJobAt = 10
	res := Apply(context.Background(), f, Plan(desired("a", 1000), nil, Options{}), ApplyOptions{Parallelism: 8})
	if res.Err() == nil {
		t.Fatal("no error")
	}
	// At most the calls in flight when the failure came back run after it.
	if f.creates > 10+8 {
		t.Errorf("%d CreateJob calls after a failure at call 10 with parallelism 8", f.creates)
	}
	if got := len(res.Registered) + len(res.NotSubmitted) + len(res.Failures); got != 1000 {
		t.Errorf("accounted for %d of 1000 runs", got)
	}
}

func TestApplyRecordFailureIsRepairedByNextApply(t *testing.T) {
	f := newFake()
	d := desired("a", 3)
	f.failRec["a-00000002"] = true
	res := Apply(context.Background(), f, Plan(d, nil, Options{}), ApplyOptions{Parallelism: 1})
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "record was not written") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Registered) != 3 {
		t.Fatalf("registered = %v", res.Registered)
	}
	f.failRec = map[string]bool{}
	p := Plan(d, f.actual(), Options{})
	if c := p.Counts(); c.Records != 1 || c.Create != 0 {
		t.Fatalf("repair plan counts = %+v", c)
	}
	res = Apply(context.Background(), f, p, ApplyOptions{})
	if res.Err() != nil || res.Records != 1 || f.records["a-00000002"] == nil {
		t.Fatalf("repair: %v, records %d", res.Err(), res.Records)
	}
}

func TestApplyPruneStopsOnlyActive(t *testing.T) {
	f := newFake()
	old := desired("a", 3)
	Apply(context.Background(), f, Plan(old, nil, Options{}), ApplyOptions{})
	f.jobs["a-00000002"].Status = new("dead")
	p := Plan(old[:1], f.actual(), Options{})
	res := Apply(context.Background(), f, p, ApplyOptions{})
	if len(res.Stopped) != 0 {
		t.Fatalf("stopped without -prune: %v", res.Stopped)
	}
	res = Apply(context.Background(), f, p, ApplyOptions{Prune: true})
	if res.Err() != nil || !slices.Equal(res.Stopped, []string{"a-00000001"}) {
		t.Fatalf("prune stopped %v (%v), want only the active a-00000001", res.Stopped, res.Err())
	}
	if len(f.records) != 3 {
		t.Error("prune touched records")
	}
	if c := Plan(old[:1], f.actual(), Options{}).Counts(); c.HasChanges() || c.Removed != 2 {
		t.Errorf("after prune: %+v", c)
	}
}

func TestApplyInterrupted(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res := Apply(ctx, f, Plan(desired("a", 50), nil, Options{}), ApplyOptions{Parallelism: 1, Progress: func(Progress) {
		n++
		if n == 3 {
			cancel()
		}
	}})
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "registered 3 of 50") || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
}

func TestApplyForeignCollision(t *testing.T) {
	f := newFake()
	f.foreign["a-00000000"] = true
	res := Apply(context.Background(), f, Plan(desired("a", 1), nil, Options{}), ApplyOptions{})
	if !errors.Is(res.Failures[0].Err, nomad.ErrConflict) || res.Err() == nil {
		t.Fatalf("collision not reported: %+v", res)
	}
}

// TestPlanScopesRemovalToItsProject: given runs of several projects, a
// plan lists as no longer declared only its own project's runs.
func TestPlanScopesRemovalToItsProject(t *testing.T) {
	actual := []ActualRun{
		{ID: "a-1", Project: "mine", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-2", Project: "theirs", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-3", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-4", Project: "mine", Experiment: "a", HasRecord: true},
	}
	p := Plan(nil, actual, Options{Project: "mine"})
	var removed []string
	for _, e := range p.Experiments {
		for _, r := range e.Removed {
			removed = append(removed, r.ID)
		}
	}
	slices.Sort(removed)
	if !slices.Equal(removed, []string{"a-1", "a-4"}) || p.Project != "mine" || p.Basis.Options().Project != "mine" {
		t.Errorf("removed %v, project %q; want only project mine's runs [a-1 a-4]", removed, p.Project)
	}
}

// TestPruneChecksTheOwnerAgain: a plan (an old or edited plan file) that
// names another project's run as no longer declared stops nothing of it.
func TestPruneChecksTheOwnerAgain(t *testing.T) {
	f := newFake()
	d := desired("a", 2)
	Apply(context.Background(), f, Plan(d, f.actual(), Options{}), ApplyOptions{Now: fixedNow})
	f.jobs["a-00000000"].Meta[record.MetaProject] = "theirs"
	plan := &RunPlan{Version: PlanVersion, Project: "mine", Experiments: []ExperimentPlan{{Name: "a",
		Removed: []RunRef{{ID: "a-00000000", Namespace: "default", Active: true}, {ID: "a-00000001", Namespace: "default", Active: true}}}}}
	res := Apply(context.Background(), f, plan, ApplyOptions{Prune: true, Now: fixedNow})
	if len(f.stopped) != 0 {
		t.Fatalf("prune stopped %v; a-00000000 is project theirs' and a-00000001 is of no project", f.stopped)
	}
	if err := res.Err(); err == nil || !strings.Contains(res.Failures[0].Err.Error(), "belongs to project theirs, not to project mine") {
		t.Errorf("failures %+v, want a refusal naming both projects", res.Failures)
	}
}
