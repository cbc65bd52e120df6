package gitops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrStale is returned by CheckFresh when a saved plan no longer describes
// the cluster.
var ErrStale = errors.New("saved plan is stale")

// WithoutJobs returns a copy of the plan without the compiled jobs, for
// -json output that a person or a CI step reads.
func (p *RunPlan) WithoutJobs() *RunPlan {
	cp := *p
	cp.Experiments = make([]ExperimentPlan, len(p.Experiments))
	for i, e := range p.Experiments {
		e.Create = stripped(e.Create)
		cp.Experiments[i] = e
	}
	return &cp
}

func stripped(cs []Change) []Change {
	if cs == nil {
		return nil
	}
	out := make([]Change, len(cs))
	for i, c := range cs {
		c.Job = nil
		out[i] = c
	}
	return out
}

// WritePlan saves a plan, with its jobs, for apply -plan.
func WritePlan(w io.Writer, p *RunPlan) error {
	enc := json.NewEncoder(w)
	return enc.Encode(p)
}

// ReadPlan loads a saved plan and checks that this caravan can apply it.
func ReadPlan(r io.Reader) (*RunPlan, error) {
	var p RunPlan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a caravan plan file (%w); write one with `caravan plan -out FILE`", err)
	}
	if p.Version != PlanVersion {
		return nil, fmt.Errorf("plan file format version %d, this caravan reads version %d; plan again with this caravan", p.Version, PlanVersion)
	}
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			if c.Job == nil {
				return nil, fmt.Errorf("plan file lacks the job of run %s (was it written with -json instead of -out?); plan again with -out", c.ID)
			}
		}
	}
	return &p, nil
}

// CheckFresh compares a saved plan's basis with the runs now in Nomad and
// returns ErrStale, with what changed, when applying it would no longer do
// what it showed. On success it refreshes which no-longer-declared runs are
// still active, since a run that finished meanwhile must not be stopped.
func CheckFresh(p *RunPlan, actual []ActualRun) error {
	declared := p.Declared()
	opts := p.Basis.Options()
	if h := ActualHash(actual, declared, opts); h != p.Basis.ActualHash {
		now := Plan(nil, actual, opts)
		return fmt.Errorf("%w: the runs in Nomad changed since the plan was made (it saw %d runs, Nomad now has %d in scope: another apply, a stop or a garbage collection ran); run `caravan plan -out FILE` again and apply the new plan",
			ErrStale, p.Basis.Actual, now.Basis.Actual)
	}
	byID := make(map[string]ActualRun, len(actual))
	for _, a := range actual {
		if prev, ok := byID[a.ID]; ok {
			a = mergeActual(prev, a)
		}
		byID[a.ID] = a
	}
	for i := range p.Experiments {
		for j, r := range p.Experiments[i].Removed {
			if a, ok := byID[r.ID]; ok {
				p.Experiments[i].Removed[j] = refOf(a)
			}
		}
	}
	return nil
}
