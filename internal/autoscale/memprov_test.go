package autoscale

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/caravan-ml/caravan/internal/terraform"
)

// memProv is an in-memory Terraform state of one pool: names, each
// possibly tainted (a creation that failed half way). Hooks let a test
// fail applies, see what each apply drops, and learn of new machines.
type memProv struct {
	mu      sync.Mutex
	state   map[string]bool // name -> tainted
	applies int
	// fail, when set, decides whether creating name fails; a failed
	// creation leaves the name in state, tainted, like Terraform does.
	fail func(name string) bool
	// dropped, when set, sees every name an apply takes out of state.
	dropped func(name string)
	// created, when set, sees every machine an apply creates (also the
	// replacement of a tainted one).
	created func(name string)
}

func newMemProv(names ...string) *memProv {
	p := &memProv{state: map[string]bool{}}
	for _, n := range names {
		p.state[n] = false
	}
	return p
}

func (p *memProv) ApplyWith(ctx context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	if err := ctx.Err(); err != nil {
		return terraform.ApplyResult{}, err
	}
	if req.Fence != nil {
		if err := req.Fence(ctx); err != nil {
			return terraform.ApplyResult{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applies++
	keep, reg := map[string]bool{}, map[string]bool{}
	for _, n := range req.Nodes {
		keep[n] = true
	}
	for _, n := range req.Registered {
		reg[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(p.state)) {
		tainted := p.state[n]
		if tainted && reg[n] {
			p.state[n] = false // untainted: its machine runs
		}
		if !keep[n] {
			delete(p.state, n)
			if p.dropped != nil {
				p.dropped(n)
			}
		}
	}
	var failed error
	for _, n := range slices.Sorted(maps.Keys(keep)) {
		tainted, ok := p.state[n]
		if ok && !tainted {
			continue
		}
		if ok && p.dropped != nil {
			p.dropped(n) // a tainted object is replaced: destroyed first
		}
		if p.fail != nil && p.fail(n) {
			p.state[n] = true
			failed = errors.Join(failed, errors.New("creating "+n+": InsufficientInstanceCapacity"))
			continue
		}
		p.state[n] = false
		if p.created != nil {
			p.created(n)
		}
	}
	return terraform.ApplyResult{Changed: true, Nodes: p.namesLocked()}, failed
}

func (p *memProv) State(context.Context) (terraform.NodeState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := terraform.NodeState{Nodes: p.namesLocked()}
	for _, n := range st.Nodes {
		if p.state[n] {
			st.Tainted = append(st.Tainted, n)
		}
	}
	return st, nil
}

func (p *memProv) Nodes(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.namesLocked(), nil
}

func (p *memProv) namesLocked() []string {
	return slices.Sorted(maps.Keys(p.state))
}

func (p *memProv) has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.state[name]
	return ok
}
