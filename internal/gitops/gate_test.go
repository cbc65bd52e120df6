package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/record"
)

// dependents are n runs of experiment exp that wait for up's runs.
func dependents(exp string, n int, up []plan.DesiredRun) []plan.DesiredRun {
	d := desired(exp, n)
	var ids []string
	for _, u := range up {
		ids = append(ids, u.ID)
	}
	for _, r := range d {
		r.Job.Meta[record.MetaDependsOn] = up[0].Experiment
		r.Job.Meta[record.MetaWaitFor] = strings.Join(ids, ",")
	}
	return d
}

func TestApplyGatesDependentRuns(t *testing.T) {
	f := newFake()
	prep := desired("prep", 2)
	train := dependents("train", 3, prep)
	all := append(append([]plan.DesiredRun{}, prep...), train...)
	res := Apply(context.Background(), f, plan.Plan(all, f.actual(), plan.Options{}), ApplyOptions{})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Registered) != 2 || len(res.Gated) != 3 || len(f.jobs) != 2 || len(f.gates) != 3 {
		t.Fatalf("registered %v gated %v; jobs %d gates %d: the dependents must wait as gates, not jobs", res.Registered, res.Gated, len(f.jobs), len(f.gates))
	}
	g := f.gates[train[0].ID]
	if len(g.WaitFor) != 2 || g.WaitFor[0] != prep[0].ID || g.Namespace != "default" || g.Experiment != "train" {
		t.Errorf("gate %+v", g)
	}
	if !strings.Contains(string(g.Job), `"Namespace":"default"`) || !strings.Contains(string(g.Job), `"caravan_origin":"apply"`) {
		t.Errorf("the gate's job is not the job apply would register: %s", g.Job)
	}

	// The next plan sees them: unchanged, waiting, nothing to apply.
	again := plan.Plan(all, f.actual(), plan.Options{})
	if c := again.Counts(); c.HasChanges() || c.Unchanged != 5 {
		t.Fatalf("second plan: %+v", c)
	}
	var b strings.Builder
	if err := plan.WriteText(&b, again); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "= "+train[0].ID+"  waiting for prep (0 of 2 runs done)") {
		t.Errorf("plan does not show the wait:\n%s", b.String())
	}
	before := len(f.gates)
	Apply(context.Background(), f, again, ApplyOptions{})
	if len(f.gates) != before || f.creates != 2 {
		t.Errorf("a second apply wrote again: gates %d, registrations %d", len(f.gates), f.creates)
	}

	// No longer declared: -prune removes the gates, which is stopping a
	// run that never started.
	p := plan.Plan(prep, f.actual(), plan.Options{})
	if c := p.Counts(); c.RemovedActive != 3 {
		t.Fatalf("undeclared waiting runs are not active: %+v", c)
	}
	res = Apply(context.Background(), f, p, ApplyOptions{Prune: true})
	if res.Err() != nil || len(res.Stopped) != 3 || len(f.gates) != 0 {
		t.Errorf("prune: %+v, gates left %d", res, len(f.gates))
	}
}
