package controller

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

func caravanJob(id, project string) *api.Job {
	j := api.NewBatchJob(id, id, "", 50)
	j.Datacenters = []string{"*"}
	pool := "gpu"
	j.NodePool = &pool
	tg := api.NewTaskGroup("run", 1)
	t := api.NewTask("train", "raw_exec")
	t.Config = map[string]any{"command": "/bin/true"}
	tg.Tasks = []*api.Task{t}
	j.TaskGroups = []*api.TaskGroup{tg}
	j.Meta = map[string]string{
		record.MetaManagedBy: record.ManagedByValue, record.MetaRunID: id, record.MetaExperiment: "train",
		record.MetaProject: project, record.MetaPool: "gpu", record.MetaGPUs: "1", record.MetaParams: `{"lr":0.1}`,
		record.MetaSpecHash: "ab12", record.MetaOrigin: record.OriginApply, record.MetaSubmittedBy: "alice",
		record.MetaPricePerHour: "32.77", record.MetaGPUsPerNode: "8",
	}
	return j
}

func setup(t *testing.T) (*nomadtest.Server, *nomad.Client) {
	t.Helper()
	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Name: "g", Pool: "gpu", GPUs: 2})
	c, err := nomad.New(nomad.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func readRecord(t *testing.T, srv *nomadtest.Server, project, id string) *record.Run {
	t.Helper()
	raw := srv.VariableItems("default", record.Ref{Project: project, RunID: id}.Path())["record"]
	if raw == "" {
		return nil
	}
	var r record.Run
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestResyncRecordsEveryJobOnce: the jobs apply registered get records
// derived from them; an existing record is never overwritten; a job that
// is not caravan's gets none.
func TestResyncRecordsEveryJobOnce(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	for _, id := range []string{"train-00000001", "train-00000002"} {
		if _, err := c.CreateJob(ctx, caravanJob(id, "vision")); err != nil {
			t.Fatal(err)
		}
	}
	foreign := caravanJob("other-1", "")
	foreign.Meta = map[string]string{"owner": "someone"}
	if _, err := c.RegisterJob(ctx, foreign, false, 0); err != nil {
		t.Fatal(err)
	}
	old := &record.Run{RunID: "train-00000002", Project: "vision", Experiment: "kept"}
	if err := c.CreateRecord(ctx, "", old); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Nomad: c})
	res, err := r.Resync(ctx)
	if err != nil || res.Records != 1 {
		t.Fatalf("resync wrote %d records (%v), want 1", res.Records, err)
	}
	rec := readRecord(t, srv, "vision", "train-00000001")
	if rec == nil || rec.SubmittedBy != "alice" || rec.Pool != "gpu" || rec.GPUs != 1 || rec.PricePerHour != 32.77 || rec.GPUsPerNode != 8 ||
		rec.Params["lr"] != 0.1 || rec.Extra["origin"] != record.OriginApply || len(rec.Job) == 0 || rec.SubmittedAt.IsZero() {
		t.Errorf("record derived from the job: %+v", rec)
	}
	if kept := readRecord(t, srv, "vision", "train-00000002"); kept == nil || kept.Experiment != "kept" {
		t.Errorf("an existing record was overwritten: %+v", kept)
	}
	if srv.VariableItems("default", record.Ref{RunID: "other-1"}.Path())["record"] != "" {
		t.Error("a job that is not caravan's got a record")
	}
	if res, err := r.Resync(ctx); err != nil || res.Records != 0 {
		t.Errorf("second resync wrote %d records (%v), want 0", res.Records, err)
	}
}

// TestNewJobsAreRecordedFromEvents: while the controller runs, a job
// registered after its first resync gets its record from the event stream.
func TestNewJobsAreRecordedFromEvents(t *testing.T) {
	srv, c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New(Config{Nomad: c, Resync: time.Hour})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Let the first resync finish so that only an event can record the job.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Requests("GET /v1/vars") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.CreateJob(ctx, caravanJob("train-0000000a", "vision")); err != nil {
		t.Fatal(err)
	}
	var rec *record.Run
	for rec == nil {
		if time.Now().After(deadline) {
			t.Fatal("no record 10 s after the job was registered")
		}
		time.Sleep(20 * time.Millisecond)
		rec = readRecord(t, srv, "vision", "train-0000000a")
	}
	// The record keeps the job as Nomad has it, whole: rerun submits it.
	var job api.Job
	if err := json.Unmarshal(rec.Job, &job); err != nil || job.NodePool == nil || *job.NodePool != "gpu" || len(job.TaskGroups) != 1 {
		t.Errorf("the record's job lost fields: %s (%v)", rec.Job, err)
	}
	cancel()
	<-done
}
