//go:build e2e

package nomad_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Variables, records, the lease and the event stream against a real Nomad
// (make e2e); the helpers are in e2e_test.go.

func TestE2EVariablesRecordsAndLease(t *testing.T) {
	c := e2eClient(t)
	ctx := context.Background()
	id := e2eID("caravan-e2e-rec")
	t.Cleanup(func() {
		if err := c.DeleteRecord(context.Background(), record.Ref{RunID: id}); err != nil {
			t.Errorf("cleanup: delete record %s: %v", id, err)
		}
	})
	rec := &record.Run{RunID: id, Experiment: "e2e", SubmittedAt: time.Now().UTC()}
	if err := c.CreateRecord(ctx, "", rec); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRecord(ctx, "", rec); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	got, idx, err := c.Record(ctx, record.Ref{RunID: id})
	if err != nil || got.Experiment != "e2e" {
		t.Fatalf("read: %+v %v", got, err)
	}
	if _, err := c.PutRecord(ctx, "", got, int64(idx)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, "", got, int64(idx)); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	if err := c.PutUsage(ctx, "", &record.Usage{RunID: id, Samples: 3}); err != nil {
		t.Fatal(err)
	}
	if u, err := c.Usage(ctx, record.Ref{Namespace: "", RunID: id}); err != nil || u.Samples != 3 {
		t.Fatalf("usage %+v %v", u, err)
	}
	refs, err := c.RecordRefs(ctx, "", nomad.RecordScope{All: true})
	var ids []string
	for _, r := range refs {
		ids = append(ids, r.RunID)
	}
	if err != nil || !contains(ids, id) {
		t.Fatalf("record ids: %v", err)
	}

	path := "caravan/e2e/" + id + "/lease"
	t.Cleanup(func() {
		if err := c.DeleteVariable(context.Background(), "", path, nomad.NoCAS); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("cleanup: delete variable %s: %v", path, err)
		}
	})
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
	t.Cleanup(func() { purgeAll(t, c, id) })
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

// TestE2EVariablesEndingIn: Nomad filters a variables list by the end of
// the path, as the fake does.
func TestE2EVariablesEndingIn(t *testing.T) {
	checkVariablesEndingIn(t, e2eClient(t), e2eID("caravan-e2e-suffix")+"/runs/")
}
