//go:build e2e

package nomad_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/hashicorp/nomad/api"
)

// The end-to-end test of the Client against a real Nomad at NOMAD_ADDR
// (make e2e). It assumes node pool "gpu" with clients that fingerprint
// nvidia/gpu devices and enable raw_exec, and removes every job and
// variable it creates. It does not drain or toggle nodes unless
// CARAVAN_E2E_NODES=1, since that disturbs a shared cluster.

func e2eClient(t *testing.T) *nomad.Client {
	t.Helper()
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR unset: end-to-end tests need a real Nomad")
	}
	c, err := nomad.New(nomad.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func e2eID(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// e2eJob is a raw_exec run: it prints to stdout and stderr and exits code.
func e2eJob(id string, gpus int, code int, sleep string) *api.Job {
	j := gpuJob(id, "gpu", gpus)
	j.Meta[compile.MetaRunID] = id
	zero := 0
	mode := "fail"
	j.TaskGroups[0].RestartPolicy = &api.RestartPolicy{Attempts: &zero, Mode: &mode}
	unlimited := false
	j.TaskGroups[0].ReschedulePolicy = &api.ReschedulePolicy{Attempts: &zero, Unlimited: &unlimited}
	j.TaskGroups[0].Tasks[0].Config = map[string]any{
		"command": "/bin/sh",
		"args":    []string{"-c", "echo starting; echo caravan-e2e-stderr >&2; sleep " + sleep + "; exit " + itoa(code)},
	}
	return j
}

func waitState(t *testing.T, c *nomad.Client, id string, want ...nomad.State) nomad.State {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var st nomad.State
	for time.Now().Before(deadline) {
		st = runState(t, c, id)
		for _, w := range want {
			if st == w {
				return st
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("job %s: state %s, want one of %v", id, st, want)
	return st
}

func TestE2EClientAgainstRealNomad(t *testing.T) {
	c := e2eClient(t)
	ctx := context.Background()
	if err := c.CheckNamespace(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Self(ctx); err != nil {
		t.Fatalf("token self (ACLs off must be tolerated): %v", err)
	}
	var jobs []string
	t.Cleanup(func() {
		for _, id := range jobs {
			c.PurgeJob(context.Background(), "", id)
		}
	})

	// A run that succeeds: states, logs (plain and framed), allocation.
	ok := e2eID("caravan-e2e-ok")
	jobs = append(jobs, ok)
	created, err := c.CreateJob(ctx, e2eJob(ok, 1, 0, "1"))
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if again, err := c.CreateJob(ctx, e2eJob(ok, 1, 0, "1")); err != nil || again {
		t.Fatalf("second create of the same run: created=%v err=%v", again, err)
	}
	waitState(t, c, ok, nomad.StateComplete)
	allocs, err := c.JobAllocations(ctx, "", ok)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocs %v %v", allocs, err)
	}
	a, err := c.Allocation(ctx, "", allocs[0].ID)
	if err != nil || len(a.AllocatedResources.Tasks["train"].Devices) != 1 {
		t.Fatalf("allocation devices: %v", err)
	}
	for _, plain := range []bool{true, false} {
		var out bytes.Buffer
		if err := c.Logs(ctx, a.ID, nomad.LogOptions{Task: "train", Plain: plain}, &out); err != nil || !strings.Contains(out.String(), "starting") {
			t.Fatalf("stdout plain=%v: %q %v", plain, out.String(), err)
		}
	}
	var errOut bytes.Buffer
	if err := c.Logs(ctx, a.ID, nomad.LogOptions{Task: "train", Stderr: true}, &errOut); err != nil || !strings.Contains(errOut.String(), "caravan-e2e-stderr") {
		t.Fatalf("stderr: %q %v", errOut.String(), err)
	}
	if nallocs, err := c.NodeAllocations(ctx, a.NodeID); err != nil || len(nallocs) == 0 {
		t.Fatalf("node allocations: %v", err)
	}
	if _, err := c.Node(ctx, a.NodeID); err != nil {
		t.Fatal(err)
	}

	// A run that fails with exit 3.
	bad := e2eID("caravan-e2e-fail")
	jobs = append(jobs, bad)
	if _, err := c.CreateJob(ctx, e2eJob(bad, 1, 3, "0")); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, bad, nomad.StateFailed)

	// A run that cannot fit: blocked evaluation, queued, then stopped.
	big := e2eID("caravan-e2e-big")
	jobs = append(jobs, big)
	if _, err := c.CreateJob(ctx, e2eJob(big, 1000, 0, "0")); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, big, nomad.StateQueued)
	deadline := time.Now().Add(time.Minute)
	for {
		evs, err := c.BlockedEvaluations(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			if e.JobID == big && e.FailedTGAllocs["run"] != nil && e.FailedTGAllocs["run"].NodePool == "gpu" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no blocked evaluation with FailedTGAllocs for the oversized run")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := c.StopJob(ctx, "", big); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, big, nomad.StateStopped)

	// A job ID caravan does not own.
	foreign := e2eID("caravan-e2e-foreign")
	jobs = append(jobs, foreign)
	fj := e2eJob(foreign, 0, 0, "0")
	fj.Meta = map[string]string{"owner": "someone-else"}
	if _, err := c.RegisterJob(ctx, fj, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctx, e2eJob(foreign, 0, 0, "0")); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("collision with a foreign job: %v", err)
	}
	own, err := c.CaravanJobs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range own {
		if j.ID == foreign {
			t.Fatal("a foreign job listed as caravan's")
		}
	}

	// Listings the autoscaler reads.
	if nodes, err := c.Nodes(ctx); err != nil || len(nodes) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	if pools, err := c.NodePools(ctx); err != nil || len(pools) < 2 {
		t.Fatalf("pools: %v", err)
	}
	if _, err := c.ClientStats(ctx, a.NodeID); err != nil {
		t.Logf("client stats (needs network access to the client): %v", err)
	}
	if _, err := c.Job(ctx, "", e2eID("caravan-e2e-missing")); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
}

func TestE2EVariablesRecordsAndLease(t *testing.T) {
	c := e2eClient(t)
	ctx := context.Background()
	id := e2eID("caravan-e2e-rec")
	t.Cleanup(func() { c.DeleteRecord(context.Background(), "", id) })
	rec := &nomad.Record{RunID: id, Experiment: "e2e", SubmittedAt: time.Now().UTC()}
	if err := c.CreateRecord(ctx, "", rec); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRecord(ctx, "", rec); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	got, idx, err := c.Record(ctx, "", id)
	if err != nil || got.Experiment != "e2e" {
		t.Fatalf("read: %+v %v", got, err)
	}
	if _, err := c.PutRecord(ctx, "", got, int64(idx)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, "", got, int64(idx)); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	if err := c.PutUsage(ctx, "", &nomad.Usage{RunID: id, Samples: 3}); err != nil {
		t.Fatal(err)
	}
	if u, err := c.Usage(ctx, "", id); err != nil || u.Samples != 3 {
		t.Fatalf("usage %+v %v", u, err)
	}
	ids, err := c.RecordIDs(ctx, "")
	if err != nil || !contains(ids, id) {
		t.Fatalf("record ids: %v", err)
	}

	path := "caravan/e2e/" + id + "/lease"
	t.Cleanup(func() { c.DeleteVariable(context.Background(), "", path, nomad.NoCAS) })
	a := c.NewLease("", path, "a", 2*time.Second)
	b := c.NewLease("", path, "b", 2*time.Second)
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, _ := b.TryAcquire(ctx); ok {
		t.Fatal("b took a held lease")
	}
	time.Sleep(2500 * time.Millisecond) // a stops renewing
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b takeover: %v %v", ok, err)
	}
	if err := a.Renew(ctx); !errors.Is(err, nomad.ErrLeaseLost) {
		t.Fatalf("a renew: %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestE2EEventStream(t *testing.T) {
	c := e2eClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := c.Events(ctx, "", 0, api.TopicJob)
	if err != nil {
		t.Fatal(err)
	}
	id := e2eID("caravan-e2e-ev")
	t.Cleanup(func() { c.PurgeJob(context.Background(), "", id) })
	if _, err := c.RegisterJob(ctx, e2eJob(id, 0, 0, "0"), false, 0); err != nil {
		t.Fatal(err)
	}
	for evs := range ch {
		if evs.Err != nil {
			t.Fatal(evs.Err)
		}
		for _, e := range evs.Events {
			if e.Key == id && e.Type == "JobRegistered" {
				return
			}
		}
	}
	t.Fatal("no JobRegistered event")
}

// TestE2EFakeAnswersLikeRealNomad registers the same run in the real Nomad
// and in the fake and compares the key sets of what both answer.
func TestE2EFakeAnswersLikeRealNomad(t *testing.T) {
	c := e2eClient(t)
	ctx := context.Background()
	id := e2eID("caravan-e2e-shape")
	t.Cleanup(func() { c.PurgeJob(context.Background(), "", id) })
	if _, err := c.RegisterJob(ctx, e2eJob(id, 1, 0, "0"), false, 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, nomad.StateComplete)

	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node", Pool: "gpu", GPUs: 2})
	fc := newClient(t, srv)
	if _, err := fc.RegisterJob(ctx, e2eJob(id, 1, 0, "0"), false, 0); err != nil {
		t.Fatal(err)
	}
	srv.CompleteAlloc(srv.Allocs("default", id)[0].ID)

	raw := func(cl *nomad.Client, path string) any {
		var v any
		if _, err := cl.API().Raw().Query(path, &v, nil); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	for _, p := range []string{"/v1/job/" + id, "/v1/job/" + id + "/summary", "/v1/job/" + id + "/allocations"} {
		var d diffs
		compareShape(&d, p, raw(c, p), raw(fc, p))
		for _, x := range d {
			t.Errorf("%s", x)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
