package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// fakeMetadata serves both clouds' notice endpoints; noticeAt is zero until
// the machine is told it goes.
type fakeMetadata struct {
	mu       sync.Mutex
	noticeAt time.Time
}

func (f *fakeMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	at := f.noticeAt
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "tok-1")
	case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/spot/instance-action":
		if r.Header.Get("X-aws-ec2-metadata-token") != "tok-1" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if at.IsZero() {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"action":"terminate","time":"%s"}`, at.UTC().Format(time.RFC3339))
	case r.URL.Path == "/computeMetadata/v1/instance/preempted":
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		if at.IsZero() {
			fmt.Fprint(w, "FALSE")
		} else {
			fmt.Fprint(w, "TRUE")
		}
	default:
		http.NotFound(w, r)
	}
}

func TestMetadataNotice(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, cloud := range []string{CloudAWS, CloudGCP} {
		t.Run(cloud, func(t *testing.T) {
			meta := &fakeMetadata{}
			srv := httptest.NewServer(meta)
			defer srv.Close()
			m := &Metadata{Cloud: cloud, BaseURL: srv.URL, HTTP: srv.Client(), Now: func() time.Time { return now }}
			if _, ok, err := m.Notice(context.Background()); ok || err != nil {
				t.Fatalf("before any notice: ok %v, err %v", ok, err)
			}
			meta.noticeAt = now.Add(2 * time.Minute)
			at, ok, err := m.Notice(context.Background())
			want := now.Add(2 * time.Minute) // AWS says when
			if cloud == CloudGCP {
				want = now.Add(30 * time.Second) // GCP's notice is 30 s
			}
			if !ok || err != nil || !at.Equal(want) {
				t.Errorf("notice: at %v ok %v err %v; want %v", at, ok, err, want)
			}
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer srv.Close()
	if _, _, err := (&Metadata{Cloud: CloudAWS, BaseURL: srv.URL, HTTP: srv.Client()}).Notice(context.Background()); err == nil {
		t.Error("a metadata server refusing the token: no error")
	}
}

// fakePreemptNomad records what the watcher asks of Nomad.
type fakePreemptNomad struct {
	allocs   []*api.Allocation
	drains   []time.Duration
	moved    []string
	targets  []nomad.MoveTarget
	recorded []record.Move
}

func (f *fakePreemptNomad) DrainNode(_ context.Context, _ string, deadline time.Duration, _ map[string]string) error {
	f.drains = append(f.drains, deadline)
	return nil
}
func (f *fakePreemptNomad) NodeAllocations(context.Context, string) ([]*api.Allocation, error) {
	return f.allocs, nil
}
func (f *fakePreemptNomad) MoveJob(_ context.Context, _, jobID string, t nomad.MoveTarget) (*api.Job, error) {
	if !t.RequireCheckpoint || (t.AvoidNode != "spot-1" && t.NodePool == "") || t.FromAlloc == "" {
		return nil, fmt.Errorf("move of %s with target %+v", jobID, t)
	}
	f.moved = append(f.moved, jobID)
	f.targets = append(f.targets, t)
	return nil, nil
}
func (f *fakePreemptNomad) AddMove(_ context.Context, _ record.Ref, m record.Move) error {
	f.recorded = append(f.recorded, m)
	return nil
}

func (f *fakePreemptNomad) Moves(context.Context, record.Ref) ([]record.Move, uint64, error) {
	return f.recorded, 0, nil
}

func runningAlloc(id string, meta map[string]string) *api.Allocation {
	return &api.Allocation{ID: id, JobID: "job-" + id, Namespace: "default", DesiredStatus: api.AllocDesiredStatusRun,
		ClientStatus: api.AllocClientStatusRunning, Job: &api.Job{Meta: meta}}
}

// A notice drains the node with the notice's deadline and moves only the
// runs that checkpoint; one notice is acted on once.
func TestPreemptWatcherDrainsAndMoves(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	meta := &fakeMetadata{noticeAt: now.Add(2 * time.Minute)}
	srv := httptest.NewServer(meta)
	defer srv.Close()
	fn := &fakePreemptNomad{allocs: []*api.Allocation{
		runningAlloc("ckpt", map[string]string{record.MetaCheckpointGrace: "1m", record.MetaRunID: "r1", record.MetaPool: "a100-spot"}),
		runningAlloc("plain", map[string]string{record.MetaRunID: "r2", record.MetaSpot: record.SpotOK}),
	}}
	reg := prometheus.NewPedanticRegistry()
	w, err := NewPreemptWatcher(PreemptWatcher{
		Source: &Metadata{Cloud: CloudAWS, BaseURL: srv.URL, HTTP: srv.Client()}, Nomad: fn,
		NodeID: "id-1", NodeName: "spot-1", Pool: "a100-spot", Interval: time.Second, Now: func() time.Time { return now },
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(fn.drains) != 1 || fn.drains[0] != 2*time.Minute {
		t.Errorf("drains %v, want one with the notice's 2m deadline", fn.drains)
	}
	if len(fn.moved) != 1 || fn.moved[0] != "job-ckpt" {
		t.Errorf("moved %v, want only the checkpointing run", fn.moved)
	}
	if len(fn.recorded) != 1 || fn.recorded[0].By != record.MovedByPreemption || fn.recorded[0].FromNode != "spot-1" {
		t.Errorf("recorded moves %+v, want one by the preemption off spot-1", fn.recorded)
	}
	if n := testutil.ToFloat64(w.notices); n != 1 {
		t.Errorf("notices metric %v, want 1", n)
	}
	if d := testutil.ToFloat64(w.deadline); d != float64(now.Add(2*time.Minute).Unix()) {
		t.Errorf("deadline metric %v", d)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %+v", err, problems)
	}
}

// Without a notice nothing is drained, and the watcher stops with its
// context.
func TestPreemptWatcherQuietWithoutNotice(t *testing.T) {
	srv := httptest.NewServer(&fakeMetadata{})
	defer srv.Close()
	fn := &fakePreemptNomad{allocs: []*api.Allocation{runningAlloc("ckpt", map[string]string{record.MetaCheckpointGrace: "1m"})}}
	w, err := NewPreemptWatcher(PreemptWatcher{Source: &Metadata{Cloud: CloudGCP, BaseURL: srv.URL, HTTP: srv.Client()},
		Nomad: fn, NodeID: "id-1", NodeName: "spot-1", Interval: 10 * time.Millisecond}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fn.drains) != 0 || len(fn.moved) != 0 {
		t.Errorf("no notice, yet drains %v moves %v", fn.drains, fn.moved)
	}
}

// A run on a spot pool with a fallback moves to another spot node until
// its spot_max_preemptions-th preemption, which sends it to the fallback.
func TestPreemptWatcherFallsBack(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(&fakeMetadata{noticeAt: now.Add(2 * time.Minute)})
	defer srv.Close()
	fn := &fakePreemptNomad{allocs: []*api.Allocation{runningAlloc("ckpt", map[string]string{
		record.MetaCheckpointGrace: "1m", record.MetaRunID: "r1", record.MetaPool: "a100-spot",
		record.MetaSpotFallbackPool: "a100", record.MetaSpotFallbackNodePool: "gpu-a100", record.MetaSpotMaxPreemptions: "2",
	})}}
	for i := range 2 {
		w, err := NewPreemptWatcher(PreemptWatcher{Source: &Metadata{Cloud: CloudAWS, BaseURL: srv.URL, HTTP: srv.Client()},
			Nomad: fn, NodeID: "id-1", NodeName: "spot-1", Interval: time.Second, Now: func() time.Time { return now }}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Logf("preemption %d: target %+v", i+1, fn.targets[i])
	}
	if first := fn.targets[0]; first.NodePool != "" || first.AvoidNode != "spot-1" {
		t.Errorf("first preemption: target %+v, want another spot node", first)
	}
	if second := fn.targets[1]; second.NodePool != "gpu-a100" || second.Pool != "a100" || fn.recorded[1].ToPool != "a100" {
		t.Errorf("second preemption: target %+v, move %+v; want the fallback pool a100", second, fn.recorded[1])
	}
}
