package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// fakeSource is a hand-written Source: maps of what Nomad holds, errors
// to return per method, and a log of the calls made.
type fakeSource struct {
	records  map[string]*record.Run
	usages   map[string]*record.Usage
	outcomes map[string]*record.Outcome
	stalls   map[string]*record.Stall
	allocs   map[string]*api.Allocation // by ID; listed for every job
	stderr   map[string]string          // by alloc ID
	errs     map[string]error           // by method name
	calls    []string
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, nomad.ErrNotFound) }

func (f *fakeSource) Record(_ context.Context, id string) (*record.Run, error) {
	f.calls = append(f.calls, "Record "+id)
	if err := f.errs["Record"]; err != nil {
		return nil, err
	}
	if r, ok := f.records[id]; ok {
		return r, nil
	}
	return nil, notFound("record " + id)
}

func (f *fakeSource) Outcome(_ context.Context, id string) (*record.Outcome, error) {
	f.calls = append(f.calls, "Outcome "+id)
	if o, ok := f.outcomes[id]; ok {
		return o, nil
	}
	return nil, notFound("outcome " + id)
}

func (f *fakeSource) Stall(_ context.Context, id string) (*record.Stall, error) {
	f.calls = append(f.calls, "Stall "+id)
	if st, ok := f.stalls[id]; ok {
		return st, nil
	}
	return nil, notFound("stall " + id)
}

func (f *fakeSource) Usage(_ context.Context, id string) (*record.Usage, error) {
	f.calls = append(f.calls, "Usage "+id)
	if err := f.errs["Usage"]; err != nil {
		return nil, err
	}
	if u, ok := f.usages[id]; ok {
		return u, nil
	}
	return nil, notFound("usage " + id)
}

func (f *fakeSource) JobAllocations(_ context.Context, ns, job string) ([]*api.AllocationListStub, error) {
	f.calls = append(f.calls, "JobAllocations "+ns+"/"+job)
	if err := f.errs["JobAllocations"]; err != nil {
		return nil, err
	}
	var out []*api.AllocationListStub
	for _, a := range f.allocs {
		out = append(out, &api.AllocationListStub{ID: a.ID, Namespace: a.Namespace, CreateIndex: a.CreateIndex, ClientStatus: a.ClientStatus})
	}
	return out, nil
}

func (f *fakeSource) Allocation(_ context.Context, ns, id string) (*api.Allocation, error) {
	f.calls = append(f.calls, "Allocation "+id)
	if a, ok := f.allocs[id]; ok {
		return a, nil
	}
	return nil, notFound("allocation " + id)
}

func (f *fakeSource) StderrTail(_ context.Context, a *api.Allocation, task string, max int64) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("StderrTail %s %s %d", a.ID, task, max))
	if err := f.errs["StderrTail"]; err != nil {
		return "", err
	}
	return f.stderr[a.ID], nil
}

func TestGather(t *testing.T) {
	a1 := alloc("a1", 10, api.AllocClientStatusLost, stop, time.Hour, 4)
	b2 := alloc("b2", 20, failed, run, time.Hour, 4, terminated(time.Hour, 1, false))
	src := &fakeSource{
		records: map[string]*record.Run{"train-1a2b3c4d": testRecord()},
		usages:  map[string]*record.Usage{"train-1a2b3c4d": usage(10, time.Hour, constant(0.5), nil, nil)},
		allocs:  map[string]*api.Allocation{"a1": a1, "b2": b2},
		stderr:  map[string]string{"b2": "RuntimeError: CUDA error: out of memory\n"},
	}
	in, err := Gather(context.Background(), src, "train-1a2b3c4d")
	if err != nil {
		t.Fatal(err)
	}
	if in.Record == nil || in.Usage == nil || len(in.Allocs) != 2 || in.StderrAlloc != "b2" || len(in.Warnings) != 0 {
		t.Fatalf("input %+v", in)
	}
	want := "StderrTail b2 train 65536"
	if !strings.Contains(strings.Join(src.calls, "\n"), want) {
		t.Errorf("calls %q lack %q: stderr must come from the newest attempt", src.calls, want)
	}
	if !strings.Contains(strings.Join(src.calls, "\n"), "JobAllocations default/train-1a2b3c4d") {
		t.Errorf("calls %q: allocations must be listed for the record's job in its namespace", src.calls)
	}
	if r := Triage(in); r.Reason.Kind != KindCUDAOOM {
		t.Errorf("reason %q, want cuda-oom", r.Reason.Kind)
	}
}

func TestGatherDegrades(t *testing.T) {
	b2 := alloc("b2", 20, failed, run, time.Hour, 4, terminated(time.Hour, 1, false))
	boom := errors.New("connection refused")
	tests := []struct {
		name     string
		errs     map[string]error
		allocs   map[string]*api.Allocation
		wantErr  error  // Gather fails with this
		warnings string // else a warning contains this
	}{
		{name: "no record", errs: map[string]error{"Record": notFound("var")}, wantErr: ErrNoRun},
		{name: "Nomad down", errs: map[string]error{"Record": boom}, wantErr: boom},
		{name: "allocations unlistable", errs: map[string]error{"JobAllocations": boom}, wantErr: boom},
		{name: "job garbage-collected", errs: map[string]error{"JobAllocations": notFound("job")}, warnings: "garbage-collected"},
		{name: "usage unreadable", errs: map[string]error{"Usage": boom}, allocs: map[string]*api.Allocation{"b2": b2}, warnings: "usage summary"},
		{name: "logs unreadable", errs: map[string]error{"StderrTail": boom}, allocs: map[string]*api.Allocation{"b2": b2}, warnings: "stderr of task \"train\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{records: map[string]*record.Run{"train-1a2b3c4d": testRecord()}, allocs: tt.allocs, errs: tt.errs}
			in, err := Gather(context.Background(), src, "train-1a2b3c4d")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := strings.Join(in.Warnings, "\n"); !strings.Contains(w, tt.warnings) {
				t.Errorf("warnings %q lack %q", in.Warnings, tt.warnings)
			}
			if r := Triage(in); !strings.Contains(strings.Join(r.Warnings, "\n"), tt.warnings) {
				t.Errorf("report warnings %q lack %q", r.Warnings, tt.warnings)
			}
		})
	}
}

func TestRecordJobID(t *testing.T) {
	for raw, want := range map[string]string{
		`{"ID":"x-1"}`:         "x-1",
		`{"Job":{"ID":"x-2"}}`: "x-2",
		`not json`:             "",
		``:                     "",
	} {
		if got := recordJobID(&record.Run{Job: []byte(raw)}); got != want {
			t.Errorf("%q: %q, want %q", raw, got, want)
		}
	}
}

// TestReportOfACollectedRun: once Nomad has collected the job, the report
// is the one given when the run ended, from the outcome the controller
// recorded, with the end of its stderr.
func TestReportOfACollectedRun(t *testing.T) {
	three := 3
	started := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	src := &fakeSource{records: map[string]*record.Run{"train-1a2b3c4d": testRecord()},
		outcomes: map[string]*record.Outcome{"train-1a2b3c4d": {RunID: "train-1a2b3c4d", State: record.StateFailed, ExitCode: &three,
			Reason: KindUserError, Summary: "the task exited with code 3", Attempts: 1, StartedAt: started, FinishedAt: started.Add(time.Hour),
			Stderr: "Traceback (most recent call last):\nValueError: bad lr\n", RecordedAt: started.Add(time.Hour)}},
		errs: map[string]error{"JobAllocations": notFound("job")}}
	in, err := Gather(context.Background(), src, "train-1a2b3c4d")
	if err != nil {
		t.Fatal(err)
	}
	r := Triage(in)
	if r.Outcome != OutcomeFailed || r.ExitCode == nil || *r.ExitCode != 3 || r.Reason.Kind != KindUserError || r.RuntimeS != 3600 ||
		len(r.StderrTail) == 0 || r.StderrTail[len(r.StderrTail)-1] != "ValueError: bad lr" {
		t.Errorf("report of a collected run: %+v", r)
	}
}
