package spec

import (
	"slices"

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

// DefaultSpotMaxPreemptions is how many preemptions a run takes on a spot
// pool with a spot_fallback before it moves to the fallback.
const DefaultSpotMaxPreemptions = 2

// MaxPreemptions is p's spot_max_preemptions or its default.
func (p *Pool) MaxPreemptions() int {
	if p.SpotMaxPreemptions > 0 {
		return p.SpotMaxPreemptions
	}
	return DefaultSpotMaxPreemptions
}

// checkSpotFallbacks checks that every spot_fallback is set on a spot
// pool and names a declared on-demand pool.
func (l *loader) checkSpotFallbacks() {
	names := make([]string, 0, len(l.cfg.Pools))
	for name := range l.cfg.Pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := l.cfg.Pools[name]
		if p.SpotFallback == "" {
			if p.SpotMaxPreemptions > 0 {
				l.add(diagErr(p.DeclRange, "spot_max_preemptions without spot_fallback", "Pool %q sets spot_max_preemptions but no spot_fallback to move runs to; add spot_fallback = \"POOL\" naming an on-demand pool, or remove spot_max_preemptions.", name))
			}
			continue
		}
		fb := l.cfg.Pools[p.SpotFallback]
		switch {
		case !p.Spot:
			l.add(diagErr(p.spotFallbackRng, "spot_fallback on an on-demand pool", "Pool %q is not a spot pool, so its runs are never preempted; remove spot_fallback, or set spot = true.", name))
		case fb == nil || !fb.Declared:
			l.add(diagErr(p.spotFallbackRng, "Unknown spot_fallback pool", "spot_fallback names pool %q, which no pool block declares; declare it, or name a declared on-demand pool.", p.SpotFallback))
		case fb.Spot:
			l.add(diagErr(p.spotFallbackRng, "spot_fallback is a spot pool", "spot_fallback names pool %q, which is a spot pool too; name an on-demand pool, where preemptions end.", p.SpotFallback))
		}
	}
}
