package controller

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

const project = "vision"

// upstream registers a run of experiment prep and returns its ID.
func upstream(t *testing.T, c *nomad.Client, id string, meta ...string) string {
	t.Helper()
	j := caravanJob(id, project)
	j.Meta[record.MetaExperiment] = "prep"
	j.Meta[record.MetaSpecHash] = id
	for i := 0; i+1 < len(meta); i += 2 {
		j.Meta[meta[i]] = meta[i+1]
	}
	if _, err := c.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return id
}

// gated writes the gate of run id, waiting for waitFor, as apply does.
func gated(t *testing.T, c *nomad.Client, id string, waitFor ...string) *record.Gate {
	t.Helper()
	j := caravanJob(id, project)
	ns := "default"
	j.Namespace = &ns
	j.Meta[record.MetaSpecHash] = id
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	g := &record.Gate{RunID: id, Project: project, Experiment: "train", Namespace: "default", WaitFor: waitFor, Job: b, CreatedAt: time.Now().UTC()}
	if err := c.CreateGate(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

func endRun(srv *nomadtest.Server, id string, ok bool) {
	for _, a := range srv.Allocs("default", id) {
		if ok {
			srv.CompleteAlloc(a.ID)
		} else {
			srv.FailAlloc(a.ID, 1)
		}
	}
}

func hasGate(srv *nomadtest.Server, id string) bool {
	return srv.VariableItems("default", record.GateRef{Project: project, RunID: id}.Path()) != nil
}

func pass(t *testing.T, d *Dependencies) PassResult {
	t.Helper()
	res, err := d.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDependenciesReleaseOnceEveryUpstreamCompleted(t *testing.T) {
	srv, c := setup(t)
	p1, p2 := upstream(t, c, "prep-00000001"), upstream(t, c, "prep-00000002")
	gated(t, c, "train-00000001", p1, p2)
	d := NewDependencies(DependenciesConfig{Nomad: c})
	registered := srv.Requests("PUT /v1/jobs")

	if res := pass(t, d); res.Waiting != 1 || res.Released != 0 {
		t.Fatalf("nothing completed yet: %+v", res)
	}
	endRun(srv, p1, true)
	if res := pass(t, d); res.Waiting != 1 || res.Released != 0 {
		t.Fatalf("1 of 2 completed: %+v", res)
	}
	if n := srv.Requests("PUT /v1/jobs"); n != registered {
		t.Fatalf("registered %d jobs before every upstream run completed", n-registered)
	}
	endRun(srv, p2, true)
	if res := pass(t, d); res.Released != 1 {
		t.Fatalf("both completed: %+v", res)
	}
	if srv.JobStatus("default", "train-00000001") == "" || hasGate(srv, "train-00000001") || readRecord(t, srv, project, "train-00000001") == nil {
		t.Fatalf("released run: job %q, gate left %v, record %v", srv.JobStatus("default", "train-00000001"),
			hasGate(srv, "train-00000001"), readRecord(t, srv, project, "train-00000001"))
	}
	if res := pass(t, d); res.Released != 0 || srv.Requests("PUT /v1/jobs") != registered+1 {
		t.Errorf("a later pass did something: %+v", res)
	}
}

func TestDependenciesBlockedUntilARerunCompletes(t *testing.T) {
	srv, c := setup(t)
	p1 := upstream(t, c, "prep-00000001")
	gated(t, c, "train-00000001", p1)
	d := NewDependencies(DependenciesConfig{Nomad: c})
	endRun(srv, p1, false)
	if res := pass(t, d); res.Blocked != 1 || res.Released != 0 {
		t.Fatalf("upstream failed: %+v", res)
	}
	if !hasGate(srv, "train-00000001") {
		t.Fatal("a blocked run was dropped")
	}
	rr := upstream(t, c, "prep-0000rr01", record.MetaRerunOf, p1, record.MetaOrigin, record.OriginRerun)
	if res := pass(t, d); res.Waiting != 1 || res.Blocked != 0 {
		t.Fatalf("rerun on its way: %+v", res)
	}
	endRun(srv, rr, true)
	if res := pass(t, d); res.Released != 1 {
		t.Fatalf("rerun completed: %+v", res)
	}
}

var errCrash = errors.New("controller killed")

// crashing is a Nomad whose controller dies at one step of a release: the
// call fails and the controller is thrown away.
type crashing struct {
	DependenciesNomad
	at string
}

func (c crashing) PutGate(ctx context.Context, g *record.Gate, cas int64) (uint64, error) {
	if c.at == "mark" {
		return 0, errCrash
	}
	return c.DependenciesNomad.PutGate(ctx, g, cas)
}

func (c crashing) CreateJob(ctx context.Context, job *api.Job) (bool, error) {
	if c.at == "register" {
		return false, errCrash
	}
	created, err := c.DependenciesNomad.CreateJob(ctx, job)
	if c.at == "registered" {
		return false, errCrash // it went through; the answer was lost
	}
	return created, err
}

func (c crashing) CreateRecord(ctx context.Context, ns string, r *record.Run) error {
	if c.at == "record" {
		return errCrash
	}
	return c.DependenciesNomad.CreateRecord(ctx, ns, r)
}

func (c crashing) DeleteGate(ctx context.Context, ref record.GateRef, cas int64) error {
	if c.at == "unlock" {
		return errCrash
	}
	return c.DependenciesNomad.DeleteGate(ctx, ref, cas)
}

// TestDependenciesKilledMidRelease kills a controller at each step of a
// release; a fresh one finishes it: the run is registered exactly once,
// gets its record, and its gate goes.
func TestDependenciesKilledMidRelease(t *testing.T) {
	for _, at := range []string{"mark", "register", "registered", "record", "unlock"} {
		t.Run(at, func(t *testing.T) {
			srv, c := setup(t)
			p1 := upstream(t, c, "prep-00000001")
			gated(t, c, "train-00000001", p1)
			endRun(srv, p1, true)
			before := srv.Requests("PUT /v1/jobs")
			first := NewDependencies(DependenciesConfig{Nomad: crashing{c, at}})
			if _, err := first.Pass(context.Background()); !errors.Is(err, errCrash) {
				t.Fatalf("the first controller did not die at %s: %v", at, err)
			}
			second := NewDependencies(DependenciesConfig{Nomad: c})
			pass(t, second)
			pass(t, second)
			if n := srv.Requests("PUT /v1/jobs") - before; n != 1 {
				t.Errorf("registrations: %d, want exactly 1", n)
			}
			if srv.JobStatus("default", "train-00000001") == "" || hasGate(srv, "train-00000001") || readRecord(t, srv, project, "train-00000001") == nil {
				t.Errorf("after the second controller: job %q, gate left %v, record %v", srv.JobStatus("default", "train-00000001"),
					hasGate(srv, "train-00000001"), readRecord(t, srv, project, "train-00000001") != nil)
			}
		})
	}
}

// TestDependenciesTwoControllers: controllers racing over the same gates
// start each run once.
func TestDependenciesTwoControllers(t *testing.T) {
	srv, c := setup(t)
	p1 := upstream(t, c, "prep-00000001")
	for _, id := range []string{"train-00000001", "train-00000002", "train-00000003"} {
		gated(t, c, id, p1)
	}
	endRun(srv, p1, true)
	before := srv.Requests("PUT /v1/jobs")
	var wg sync.WaitGroup
	for range 4 {
		d := NewDependencies(DependenciesConfig{Nomad: c})
		wg.Go(func() {
			for range 3 {
				d.Pass(context.Background())
			}
		})
	}
	wg.Wait()
	if n := srv.Requests("PUT /v1/jobs") - before; n > 3 {
		// More than one create attempt per run is harmless only if Nomad
		// refused the extra ones; count what exists instead.
		t.Logf("%d registration attempts for 3 runs", n)
	}
	for _, id := range []string{"train-00000001", "train-00000002", "train-00000003"} {
		if len(srv.Allocs("default", id)) != 1 || hasGate(srv, id) {
			t.Errorf("%s: %d allocations (want 1), gate left %v", id, len(srv.Allocs("default", id)), hasGate(srv, id))
		}
	}
}

// TestDependenciesInterruptedLongAgo: a release interrupted beyond
// UncertainAfter whose job and record are both gone is not registered
// again (it may have run and been collected); its record says so.
func TestDependenciesInterruptedLongAgo(t *testing.T) {
	srv, c := setup(t)
	p1 := upstream(t, c, "prep-00000001")
	g := gated(t, c, "train-00000001", p1)
	endRun(srv, p1, true)
	g.ReleasingAt = time.Now().Add(-2 * time.Hour)
	if _, err := c.PutGate(context.Background(), g, nomad.NoCAS); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests("PUT /v1/jobs")
	pass(t, NewDependencies(DependenciesConfig{Nomad: c}))
	if n := srv.Requests("PUT /v1/jobs") - before; n != 0 {
		t.Fatalf("registered a run whose earlier registration cannot be ruled out")
	}
	rec := readRecord(t, srv, project, "train-00000001")
	if rec == nil || rec.Extra["release"] == "" || hasGate(srv, "train-00000001") {
		t.Fatalf("record %+v, gate left %v", rec, hasGate(srv, "train-00000001"))
	}
	// Within UncertainAfter, the same state is a release to finish.
	g2 := gated(t, c, "train-00000002", p1)
	g2.ReleasingAt = time.Now().Add(-time.Minute)
	if _, err := c.PutGate(context.Background(), g2, nomad.NoCAS); err != nil {
		t.Fatal(err)
	}
	pass(t, NewDependencies(DependenciesConfig{Nomad: c}))
	if srv.JobStatus("default", "train-00000002") == "" {
		t.Error("a recently interrupted release was not finished")
	}
}
