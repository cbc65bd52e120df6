package autoscale_test

import (
	"context"
	"sort"
	"sync"

	"github.com/caravan-ml/caravan/internal/terraform"
)

// memProvisioner is a Provisioner that keeps the node set in memory.
type memProvisioner struct {
	mu      sync.Mutex
	nodes   []string
	applies int
	fail    error
}

func (p *memProvisioner) ApplyWith(ctx context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	if req.Fence != nil {
		if err := req.Fence(ctx); err != nil {
			return terraform.ApplyResult{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applies++
	if p.fail != nil {
		return terraform.ApplyResult{}, p.fail
	}
	p.nodes = append([]string(nil), req.Nodes...)
	sort.Strings(p.nodes)
	return terraform.ApplyResult{Changed: true, Nodes: p.nodes}, nil
}

func (p *memProvisioner) State(context.Context) (terraform.NodeState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return terraform.NodeState{Nodes: append([]string(nil), p.nodes...)}, nil
}
