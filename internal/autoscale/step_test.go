package autoscale

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// recNomad is a hand-written Nomad that records node operations and can
// fail them; reads are empty.
type recNomad struct {
	calls   []string
	failOn  string // a call prefix that fails
	vars    map[string]map[string]string
	allocs  map[string][]*api.Allocation
	nodes   []*api.NodeListStub
	readErr error
}

func (f *recNomad) op(s string) error {
	f.calls = append(f.calls, s)
	if f.failOn != "" && strings.HasPrefix(s, f.failOn) {
		return fmt.Errorf("%s: permission denied", s)
	}
	return nil
}

func (f *recNomad) SetEligibility(_ context.Context, id string, eligible bool) error {
	return f.op(fmt.Sprintf("eligibility %s %v", id, eligible))
}

func (f *recNomad) DrainNode(_ context.Context, id string, deadline time.Duration, meta map[string]string) error {
	return f.op(fmt.Sprintf("drain %s %s %s", id, deadline, meta["caravan"]))
}

func (f *recNomad) CancelDrain(_ context.Context, id string, eligible bool) error {
	return f.op(fmt.Sprintf("canceldrain %s %v", id, eligible))
}

func (f *recNomad) Nodes(context.Context) ([]*api.NodeListStub, error) { return f.nodes, f.readErr }
func (f *recNomad) NodeAllocations(_ context.Context, id string) ([]*api.Allocation, error) {
	return f.allocs[id], nil
}
func (f *recNomad) Jobs(context.Context, string) ([]*api.JobListStub, error) { return nil, f.readErr }
func (f *recNomad) Job(context.Context, string, string) (*api.Job, error) {
	return nil, errors.New("none")
}
func (f *recNomad) BlockedEvaluations(context.Context, string) ([]*api.Evaluation, error) {
	return nil, f.readErr
}

func (f *recNomad) Variable(_ context.Context, _, path string) (*api.Variable, error) {
	if v, ok := f.vars[path]; ok {
		return &api.Variable{Path: path, Items: v}, nil
	}
	return nil, fmt.Errorf("variable %s: %w", path, errNotFoundForTest)
}

func (f *recNomad) PutVariable(_ context.Context, _, path string, items map[string]string, _ int64) (*api.Variable, error) {
	if f.vars == nil {
		f.vars = map[string]map[string]string{}
	}
	f.vars[path] = items
	return &api.Variable{Path: path, Items: items}, nil
}

func (f *recNomad) Variables(context.Context, string, string) ([]*api.VariableMetadata, error) {
	return nil, nil
}

var errNotFoundForTest = notFoundErr()

// countingProv counts applies.
type countingProv struct{ applies int }

func (p *countingProv) ApplyWith(_ context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	p.applies++
	return terraform.ApplyResult{Nodes: req.Nodes}, nil
}
func (p *countingProv) State(context.Context) (terraform.NodeState, error) {
	return terraform.NodeState{}, nil
}

func newActLoop(t *testing.T, f *recNomad, prov Provisioner) (*Loop, *poolRun) {
	t.Helper()
	pl := fixturePool(2)
	l, err := NewLoop(Config{Pools: mapPool(pl), Provisioners: map[string]Provisioner{"gpu": prov}, Nomad: f, SyncApply: true})
	if err != nil {
		t.Fatal(err)
	}
	l.begin(l.current())
	p := l.pools["gpu"]
	p.loaded, p.requested, p.seen = true, map[string]time.Time{}, map[string]time.Time{}
	p.inState = []string{"gpu-1", "gpu-2"}
	p.state = decide.PoolState{Pool: pl, Nodes: []decide.Node{{Name: "gpu-1", ID: "id-1", Draining: true}, {Name: "gpu-2", ID: "id-2"}}}
	l.ids = map[string]string{"gpu-1": "id-1", "gpu-2": "id-2"}
	return l, p
}

func TestActNomadOperations(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		action decide.Action
		want   string
	}{
		{"re-enable a draining node cancels its drain", decide.Action{Kind: decide.MarkEligible, Nodes: []string{"gpu-1"}}, "canceldrain id-1 true"},
		{"re-enable a cordoned node", decide.Action{Kind: decide.MarkEligible, Nodes: []string{"gpu-2"}}, "eligibility id-2 true"},
		{"cordon", decide.Action{Kind: decide.MarkIneligible, Nodes: []string{"gpu-2"}}, "eligibility id-2 false"},
		{"drain with deadline", decide.Action{Kind: decide.Drain, Nodes: []string{"gpu-2"}, Deadline: time.Hour}, "drain id-2 1h0m0s scale-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &recNomad{}
			prov := &countingProv{}
			l, p := newActLoop(t, f, prov)
			d := decide.Decision{Pool: "gpu", Actions: []decide.Action{tt.action}, TargetNodes: []string{"gpu-1", "gpu-2"}}
			if err := l.act(context.Background(), p, d, now, l.active); err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 1 || f.calls[0] != tt.want {
				t.Errorf("calls %v, want [%s]", f.calls, tt.want)
			}
			if prov.applies != 0 {
				t.Errorf("target unchanged, yet Terraform ran")
			}
		})
	}
}

// TestActNomadFailureKeepsTerraform: when a drain fails, the node is not
// remembered as draining (so it cannot be removed as if drained) and
// Terraform does not run in that step.
func TestActNomadFailureKeepsTerraform(t *testing.T) {
	f := &recNomad{failOn: "drain"}
	prov := &countingProv{}
	l, p := newActLoop(t, f, prov)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	d := decide.Decision{Pool: "gpu",
		Actions:     []decide.Action{{Kind: decide.MarkIneligible, Nodes: []string{"gpu-2"}}, {Kind: decide.Drain, Nodes: []string{"gpu-2"}, Deadline: time.Hour}, {Kind: decide.Create, Nodes: []string{"gpu-3"}}},
		TargetNodes: []string{"gpu-1", "gpu-2", "gpu-3"},
		History:     decide.History{Draining: map[string]time.Time{"gpu-2": now}, Cordoned: map[string]time.Time{}},
	}
	err := l.act(context.Background(), p, d, now, l.active)
	if err == nil || !strings.Contains(err.Error(), "drain node gpu-2") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := p.history.Draining["gpu-2"]; ok {
		t.Errorf("a failed drain is remembered as draining")
	}
	if _, ok := d.History.Draining["gpu-2"]; !ok {
		t.Errorf("the decision's own history was modified in place")
	}
	if prov.applies != 0 {
		t.Errorf("Terraform ran after a failed Nomad operation")
	}
	// The next step, with the operation working again, applies.
	f.failOn = ""
	if err := l.act(context.Background(), p, d, now, l.active); err != nil {
		t.Fatal(err)
	}
	if prov.applies != 1 || p.requested["gpu-3"] != now {
		t.Errorf("applies %d, requested %v", prov.applies, p.requested)
	}
}
