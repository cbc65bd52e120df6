package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestApplyRegistersAndIsIdempotent(t *testing.T) {
	f := newFake()
	d := desired("a", 40)
	var progress []Progress
	res := Apply(context.Background(), f, plan.Plan(d, f.actual(), plan.Options{}), ApplyOptions{
		Parallelism: 4, SubmittedBy: "alice",
		Progress: func(p Progress) { progress = append(progress, p) },
	})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Registered) != 40 || len(f.jobs) != 40 || f.creates != 40 {
		t.Fatalf("registered %d, jobs %d, registrations %d; want 40 each (one write per run)", len(res.Registered), len(f.jobs), f.creates)
	}
	// The job carries what its record will hold: the controller writes
	// the record from it.
	m := f.jobs["a-00000007"].Meta
	if m[record.MetaOrigin] != record.OriginApply || m[record.MetaSubmittedBy] != "alice" {
		t.Errorf("job meta lacks how and by whom it was submitted: %v", m)
	}
	rec, err := query.RecordOf(f.jobs["a-00000007"])
	if err != nil || rec.SubmittedBy != "alice" || rec.Extra["origin"] != record.OriginApply || rec.SpecHash != d[7].SpecHash || len(rec.Job) == 0 {
		t.Errorf("record from the job: %+v %v", rec, err)
	}
	if d[7].Job.Meta[record.MetaOrigin] != "" {
		t.Error("Apply mutated the plan's job")
	}
	if len(progress) != 40 || progress[39].Done != 40 || progress[39].Total != 40 {
		t.Errorf("progress calls = %d, last %+v", len(progress), progress[len(progress)-1])
	}

	again := plan.Plan(d, f.actual(), plan.Options{})
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
	p := plan.Plan(d, nil, plan.Options{})
	// Another apply registered run 1 after our plan was made.
	f.jobs["a-00000001"] = d[1].Job
	res := Apply(context.Background(), f, p, ApplyOptions{Parallelism: 1})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Present, []string{"a-00000001"}) || len(res.Registered) != 2 {
		t.Fatalf("present %v registered %v", res.Present, res.Registered)
	}
}

func TestApplyStopsAtFirstFailureAndReportsPrecisely(t *testing.T) {
	f := newFake()
	f.failJobAt = 5
	d := desired("a", 100)
	res := Apply(context.Background(), f, plan.Plan(d, nil, plan.Options{}), ApplyOptions{Parallelism: 1})
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
	res = Apply(context.Background(), f, plan.Plan(d, f.actual(), plan.Options{}), ApplyOptions{})
	if res.Err() != nil || len(res.Registered) != 96 || len(f.jobs) != 100 {
		t.Fatalf("second apply: %v, registered %d, jobs %d", res.Err(), len(res.Registered), len(f.jobs))
	}
}

func TestApplyParallelFailureBoundsWork(t *testing.T) {
	f := newFake()
	f.failJobAt = 10
	res := Apply(context.Background(), f, plan.Plan(desired("a", 1000), nil, plan.Options{}), ApplyOptions{Parallelism: 8})
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

func TestApplyPruneStopsOnlyActive(t *testing.T) {
	f := newFake()
	old := desired("a", 3)
	Apply(context.Background(), f, plan.Plan(old, nil, plan.Options{}), ApplyOptions{})
	f.jobs["a-00000002"].Status = new("dead")
	p := plan.Plan(old[:1], f.actual(), plan.Options{})
	res := Apply(context.Background(), f, p, ApplyOptions{})
	if len(res.Stopped) != 0 {
		t.Fatalf("stopped without -prune: %v", res.Stopped)
	}
	res = Apply(context.Background(), f, p, ApplyOptions{Prune: true})
	if res.Err() != nil || !slices.Equal(res.Stopped, []string{"a-00000001"}) {
		t.Fatalf("prune stopped %v (%v), want only the active a-00000001", res.Stopped, res.Err())
	}
	if c := plan.Plan(old[:1], f.actual(), plan.Options{}).Counts(); c.HasChanges() || c.Removed != 2 {
		t.Errorf("after prune: %+v", c)
	}
}

func TestApplyInterrupted(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res := Apply(ctx, f, plan.Plan(desired("a", 50), nil, plan.Options{}), ApplyOptions{Parallelism: 1, Progress: func(Progress) {
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
	res := Apply(context.Background(), f, plan.Plan(desired("a", 1), nil, plan.Options{}), ApplyOptions{})
	if !errors.Is(res.Failures[0].Err, nomad.ErrConflict) || res.Err() == nil {
		t.Fatalf("collision not reported: %+v", res)
	}
}

// TestPlanScopesRemovalToItsProject: given runs of several projects, a
// plan lists as no longer declared only its own project's runs.
func TestPlanScopesRemovalToItsProject(t *testing.T) {
	actual := []plan.ActualRun{
		{ID: "a-1", Project: "mine", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-2", Project: "theirs", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-3", Experiment: "a", HasJob: true, Status: "running"},
		{ID: "a-4", Project: "mine", Experiment: "a", HasRecord: true},
	}
	p := plan.Plan(nil, actual, plan.Options{Project: "mine"})
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
	Apply(context.Background(), f, plan.Plan(d, f.actual(), plan.Options{}), ApplyOptions{})
	f.jobs["a-00000000"].Meta[record.MetaProject] = "theirs"
	p := &plan.RunPlan{Version: plan.PlanVersion, Project: "mine", Experiments: []plan.ExperimentPlan{{Name: "a",
		Removed: []plan.RunRef{{ID: "a-00000000", Namespace: "default", Active: true}, {ID: "a-00000001", Namespace: "default", Active: true}}}}}
	res := Apply(context.Background(), f, p, ApplyOptions{Prune: true})
	if len(f.stopped) != 0 {
		t.Fatalf("prune stopped %v; a-00000000 is project theirs' and a-00000001 is of no project", f.stopped)
	}
	// Removals run in parallel and the first refusal ends the apply: which
	// of the two is refused first varies, but each refusal names both
	// projects.
	want := map[string]string{
		"a-00000000": "belongs to project theirs, not to project mine",
		"a-00000001": "belongs to no project, not to project mine",
	}
	if res.Err() == nil || len(res.Failures) == 0 {
		t.Fatalf("apply -prune of another project's runs succeeded; want a refusal")
	}
	for _, f := range res.Failures {
		if !strings.Contains(f.Err.Error(), want[f.ID]) || want[f.ID] == "" {
			t.Errorf("failure of %s: %v; want it to say it %s", f.ID, f.Err, want[f.ID])
		}
	}
}

// TestApplyRegistersSweepsInOrder: whatever the parallelism, the runs of
// each experiment reach Nomad in sweep order (Nomad considers queued runs
// of one priority in registration order), while experiments go side by
// side.
func TestApplyRegistersSweepsInOrder(t *testing.T) {
	f := newFake()
	var d []plan.DesiredRun
	for _, e := range []string{"a", "b", "c"} {
		d = append(d, desired(e, 30)...)
	}
	res := Apply(context.Background(), f, plan.Plan(d, nil, plan.Options{}), ApplyOptions{Parallelism: 16})
	if err := res.Err(); err != nil || len(res.Registered) != 90 {
		t.Fatalf("registered %d: %v", len(res.Registered), err)
	}
	last := map[string]string{}
	for _, id := range f.order {
		e := record.ExperimentOf(id)
		if id < last[e] {
			t.Fatalf("%s registered after %s: not in sweep order\n%v", id, last[e], f.order)
		}
		last[e] = id
	}
}

// TestApplyCutOffInFlight: a registration cut off by the apply's own
// interruption is not reported as a failure of that run, and the message
// says it may have landed; a refusal beside it is reported as before.
func TestApplyCutOffInFlight(t *testing.T) {
	cut := fmt.Errorf("register job %q: canceled: %w", "a-00000003", context.Canceled)
	res := &ApplyResult{Planned: 10, Registered: []string{"a-00000000", "a-00000001", "a-00000002"},
		Failures: []Failure{{ID: "a-00000003", Err: cut}}, NotSubmitted: []string{"a-00000004"}}
	msg := res.Err().Error()
	for _, want := range []string{"registered 3 of 10", "7 not submitted", "interrupted (a registration cut off in flight may have reached Nomad", "run apply again to finish"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "a-00000003") {
		t.Errorf("message %q blames the run that was cut off", msg)
	}
	res.Failures = append(res.Failures, Failure{ID: "a-00000005", Err: errors.New("permission denied")})
	if msg := res.Err().Error(); strings.Contains(msg, "interrupted") {
		t.Errorf("a refusal beside the cut-off reads as an interruption: %q", msg)
	}
}
