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

func (p *memProvisioner) Apply(_ context.Context, nodes []string) (terraform.ApplyResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applies++
	if p.fail != nil {
		return terraform.ApplyResult{}, p.fail
	}
	p.nodes = append([]string(nil), nodes...)
	sort.Strings(p.nodes)
	return terraform.ApplyResult{Changed: true, Nodes: p.nodes}, nil
}

func (p *memProvisioner) Nodes(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.nodes...), nil
}
