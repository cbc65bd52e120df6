package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// SpotOK is the value of an experiment's spot attribute that lets runs
// without a checkpoint block land on spot pools: the team accepts that a
// preemption restarts them from the beginning.
const SpotOK = "ok"

// SpotAllowed reports whether e's runs may land on a spot pool: they
// checkpoint, so a preemption moves them, or the experiment says spot = "ok".
func (e *Experiment) SpotAllowed() bool { return e.Checkpoint != nil || e.Spot == SpotOK }

// decodeSpot reads an experiment's spot attribute.
func (l *loader) decodeSpot(e *Experiment, a *hcl.Attribute) {
	v, ok := l.attrString(a)
	if !ok {
		return
	}
	if v != SpotOK {
		l.add(diagErr(a.Expr.Range(), "Invalid spot", "spot is %q; the only value is \"ok\", which lets runs without a checkpoint block run on spot pools, where a preemption restarts them from the start. Remove it to keep them off spot pools.", v))
		return
	}
	e.Spot = v
}

// decodePoolSpot reads a pool's spot attribute.
func decodePoolSpot(l *loader, p *Pool, a *hcl.Attribute) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() {
		l.wrongType(a.Expr.Range(), a.Name, "true or false", v)
		return
	}
	p.Spot = b.True()
}

// checkSpot refuses an experiment on a spot pool whose runs could not
// survive a preemption without saying that this is fine.
func (l *loader) checkSpot(e *Experiment, p *Pool) {
	if !p.Spot || e.SpotAllowed() {
		return
	}
	rng := e.poolRng
	if rng.Filename == "" {
		rng = e.DeclRange
	}
	l.add(diagErr(rng, "Experiment not fit for a spot pool",
		"Pool %q (declared at %s) runs on spot or preemptible machines, which the cloud may take back at any time, and experiment %q has no checkpoint block to resume from. Add a checkpoint block, write spot = \"ok\" in the experiment to accept restarts from the beginning, or use an on-demand pool.",
		p.Name, posString(p.DeclRange), e.Name))
}

// spotFiltered drops the spot pools from cands when e may not use them.
func spotFiltered(e *Experiment, cands []*Pool) []*Pool {
	if e.SpotAllowed() {
		return cands
	}
	out := make([]*Pool, 0, len(cands))
	for _, p := range cands {
		if !p.Spot {
			out = append(out, p)
		}
	}
	return out
}
