package autoscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
)

const fixtures = "../../../shared/nomad-api-fixtures"

// fixtureReader answers Observe's reads with the recorded Nomad answers.
type fixtureReader struct {
	t        *testing.T
	jobReads int
	fail     error
}

func (f *fixtureReader) load(name string, v any) {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		f.t.Skipf("recorded Nomad answers not available: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
}

func (f *fixtureReader) Nodes(context.Context) ([]*api.NodeListStub, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []*api.NodeListStub
	f.load("get-nodes-resources.json", &out)
	return out, nil
}

func (f *fixtureReader) NodeAllocations(_ context.Context, id string) ([]*api.Allocation, error) {
	var out []*api.Allocation
	if id == "50fd6692-4006-9c4b-25b3-057bef3e5285" {
		f.load("get-node-gpu-allocations.json", &out)
	}
	return out, nil
}

func (f *fixtureReader) Jobs(context.Context, string) ([]*api.JobListStub, error) {
	var out []*api.JobListStub
	f.load("get-jobs-meta.json", &out)
	return out, nil
}

func (f *fixtureReader) Job(_ context.Context, _, id string) (*api.Job, error) {
	f.jobReads++
	var j api.Job
	switch id {
	case "gpu-too-big":
		f.load("get-job-gpu-too-big.json", &j)
	default:
		return nil, fmt.Errorf("job %q: %w", id, nomad.ErrNotFound)
	}
	return &j, nil
}

func (f *fixtureReader) BlockedEvaluations(context.Context, string) ([]*api.Evaluation, error) {
	var all, out []*api.Evaluation
	f.load("get-evaluations.json", &all)
	for _, e := range all {
		if e.Status == "blocked" {
			out = append(out, e)
		}
	}
	return out, nil
}

func fixturePool(gpus int) *spec.Pool {
	return &spec.Pool{Name: "gpu", NodePool: "gpu", GPU: "nvidia/gpu", GPUsPerNode: gpus, MaxNodes: 4,
		IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute}
}

func TestObserveFixtures(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		in          PoolInput
		wantNodes   int
		wantForeign int
		wantBooting int
	}{
		{
			name:      "node in state",
			in:        PoolInput{Pool: fixturePool(2), InState: []string{"gpu-node-1"}},
			wantNodes: 1,
		},
		{
			// Scale from zero: the pool's machines are none of caravan's;
			// the blocked evaluation still yields demand.
			name:        "scale from zero",
			in:          PoolInput{Pool: fixturePool(4)},
			wantForeign: 1,
		},
		{
			name:        "requested, not registered",
			in:          PoolInput{Pool: fixturePool(4), InState: []string{"gpu-7"}, Requested: map[string]time.Time{"gpu-7": now.Add(-time.Minute)}},
			wantForeign: 1, wantBooting: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fixtureReader{t: t}
			o := &Observer{Nomad: r}
			st, views, err := o.Observe(context.Background(), now, map[string]PoolInput{"gpu": tt.in})
			if err != nil {
				t.Fatal(err)
			}
			ps := st.Pools["gpu"]
			if len(ps.Nodes) != tt.wantNodes || len(views["gpu"].Foreign) != tt.wantForeign || len(ps.Booting) != tt.wantBooting {
				t.Fatalf("nodes %d foreign %v booting %v", len(ps.Nodes), views["gpu"].Foreign, ps.Booting)
			}
			if tt.wantNodes == 1 {
				n := ps.Nodes[0]
				if n.Total.GPUs != 2 || n.Used.GPUs != 1 || n.Allocs != 1 || !n.Eligible || n.Status != decide.NodeReady || n.Used.CPU != 100 || n.Used.Memory != 64<<20 {
					t.Errorf("node: %+v", n)
				}
				if !n.LastBusy.Equal(now) {
					t.Errorf("a node with a running allocation is busy now: %v", n.LastBusy)
				}
			}
			if tt.wantBooting == 1 && !ps.Booting[0].RequestedAt.Equal(now.Add(-time.Minute)) {
				t.Errorf("booting machine lost its request time: %+v", ps.Booting)
			}
			// gpu-too-big: 1 queued allocation asking for 3 GPUs, found
			// both in its summary and its blocked evaluation, counted once.
			if len(ps.Pending) != 1 {
				t.Fatalf("pending = %+v, want gpu-too-big's one allocation", ps.Pending)
			}
			if p := ps.Pending[0]; p.JobID != "gpu-too-big" || p.Resources.GPUs != 3 || p.Resources.CPU != 100 || p.Resources.Memory != 64<<20 {
				t.Errorf("request = %+v", p)
			}
			if views["gpu"].Blocked["missing devices"] != 1 {
				t.Errorf("blocked reasons = %v", views["gpu"].Blocked)
			}
			// A second observation reads no job spec again.
			reads := r.jobReads
			if _, _, err := o.Observe(context.Background(), now.Add(time.Second), map[string]PoolInput{"gpu": tt.in}); err != nil {
				t.Fatal(err)
			}
			if r.jobReads != reads {
				t.Errorf("job spec read again though unchanged")
			}
			if st2, _, _ := o.Observe(context.Background(), now.Add(2*time.Second), map[string]PoolInput{"gpu": tt.in}); !st2.Pools["gpu"].Pending[0].Since.Equal(now) {
				t.Errorf("a request's Since must stay its first sighting")
			}
		})
	}
}

func TestObserveFailsWhole(t *testing.T) {
	r := &fixtureReader{t: t, fail: fmt.Errorf("list nodes: %w", nomad.ErrUnreachable)}
	_, _, err := (&Observer{Nomad: r}).Observe(context.Background(), time.Now(), map[string]PoolInput{"gpu": {Pool: fixturePool(2)}})
	if !errors.Is(err, nomad.ErrUnreachable) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeviceMatches(t *testing.T) {
	tests := []struct {
		pool, vendor, typ, name, req string
		want                         bool
	}{
		{"nvidia/gpu", "nvidia", "gpu", "H100", "", true},
		{"nvidia/gpu", "amd", "gpu", "MI300", "", false},
		{"gpu", "amd", "gpu", "MI300", "", true},
		{"nvidia/gpu/A100", "nvidia", "gpu", "H100", "", false},
		{"nvidia/gpu", "", "", "", "nvidia/gpu", true},
		{"nvidia/gpu", "", "", "", "gpu", true},
		{"nvidia/gpu", "", "", "", "nvidia/gpu/H100", true},
		{"nvidia/gpu/A100", "", "", "", "nvidia/gpu/H100", false},
		{"nvidia/gpu", "", "", "", "nvidia/fpga", false},
	}
	for _, tt := range tests {
		if got := deviceMatches(tt.pool, tt.vendor, tt.typ, tt.name, tt.req); got != tt.want {
			t.Errorf("deviceMatches(%q, %q/%q/%q, req %q) = %v", tt.pool, tt.vendor, tt.typ, tt.name, tt.req, got)
		}
	}
}

func notFoundErr() error { return nomad.ErrNotFound }

func mapPool(p *spec.Pool) map[string]*spec.Pool { return map[string]*spec.Pool{p.Name: p} }

// editedJobs is the fixture reader with the job list changed.
type editedJobs struct {
	*fixtureReader
	edit func([]*api.JobListStub) []*api.JobListStub
}

func (e editedJobs) Jobs(ctx context.Context, ns string) ([]*api.JobListStub, error) {
	j, err := e.fixtureReader.Jobs(ctx, ns)
	return e.edit(j), err
}

// TestObserveSummaryIsAuthority: the job summary counts queued
// allocations; a blocked evaluation counts only for a job the list does
// not show, and a stale one (job placed since) counts for nothing.
func TestObserveSummaryIsAuthority(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	in := map[string]PoolInput{"gpu": {Pool: fixturePool(4)}}
	tests := []struct {
		name        string
		edit        func([]*api.JobListStub) []*api.JobListStub
		wantPending int
		wantBlocked int
	}{
		{"job not listed yet", func(js []*api.JobListStub) []*api.JobListStub {
			var out []*api.JobListStub
			for _, j := range js {
				if j.ID != "gpu-too-big" {
					out = append(out, j)
				}
			}
			return out
		}, 1, 1},
		{"job placed since the evaluation", func(js []*api.JobListStub) []*api.JobListStub {
			for _, j := range js {
				if j.ID == "gpu-too-big" {
					s := j.JobSummary.Summary["run"]
					s.Queued, s.Running = 0, 1
					j.JobSummary.Summary["run"] = s
				}
			}
			return js
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := editedJobs{&fixtureReader{t: t}, tt.edit}
			st, views, err := (&Observer{Nomad: r}).Observe(context.Background(), now, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(st.Pools["gpu"].Pending); got != tt.wantPending {
				t.Errorf("pending = %d, want %d", got, tt.wantPending)
			}
			if got := views["gpu"].Blocked["missing devices"]; got != tt.wantBlocked {
				t.Errorf("blocked reasons = %v", views["gpu"].Blocked)
			}
		})
	}
}
