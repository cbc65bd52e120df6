package spec

import (
	"maps"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Point asks Load for one run of one experiment at the given parameter
// values instead of its sweep: what `caravan rerun -param` submits. The
// run is expanded exactly as a sweep point would be (command, args and
// env evaluated with these params), so a value that reaches args through
// an expression reaches them here too.
type Point struct {
	Experiment string
	// Params holds a value for every parameter the experiment declares
	// (params, sweep.grid and sweep.random), nothing else; each must be a
	// string, number or bool of the type the experiment's own values of
	// that parameter have.
	Params map[string]cty.Value
}

// applyPoint replaces the sweep of the point's experiment with the point
// and leaves the other experiments unexpanded: Config.Runs then holds the
// point's run alone. The point is checked as the language checks a sweep:
// only declared params, each of a type the experiment uses for it.
func (l *loader) applyPoint() {
	pt := l.opts.Point
	if pt == nil {
		return
	}
	var es *expState
	for _, x := range l.exps {
		if x.e.Name == pt.Experiment {
			es = x
		}
	}
	if es == nil {
		var names []string
		for _, x := range l.exps {
			names = append(names, x.e.Name)
		}
		l.add(diagErr(fileRange(l.dir), "No such experiment",
			"The configuration has no experiment %q (it has %s); name one of them.%s", pt.Experiment, strings.Join(names, ", "), suggest(pt.Experiment, names)))
		l.exps = nil
		return
	}
	l.exps = []*expState{es}
	if !es.ok || es.sweep == nil || !es.sweep.ok {
		return // the experiment's own errors are reported
	}
	sw := es.sweep
	point := &sweepSpec{names: sw.names, base: map[string]pval{}, samples: 1, size: 1, ok: true, scope: sw.scope}
	rng := es.e.DeclRange
	for _, name := range slices.Sorted(maps.Keys(pt.Params)) {
		if !slices.Contains(sw.names, name) {
			l.add(diagErr(rng, "Undeclared parameter",
				"Experiment %q declares the params %s; %q is not one of them, so no run of it can set it. Declare it in params or the sweep first.%s",
				pt.Experiment, strings.Join(sw.names, ", "), name, suggest(name, sw.names)))
			point.ok = false
			continue
		}
		v := pt.Params[name]
		if types := paramTypes(sw, name); !slices.Contains(types, typeName(v)) {
			l.add(diagErr(rng, "Invalid parameter value",
				"Param %s of experiment %q takes %s, as its declared values are; %s is %s. Give a value of that type.", name, pt.Experiment, strings.Join(types, " or "), renderOrNull(v), typeName(v)))
			point.ok = false
			continue
		}
		p, ok := l.toPval(v, rng, "param "+name)
		if !ok {
			point.ok = false
			continue
		}
		point.base[name] = p
	}
	for _, name := range sw.names {
		if _, ok := pt.Params[name]; !ok {
			l.add(diagErr(rng, "Missing parameter",
				"A run of experiment %q needs a value for every param it declares (%s); %s has none.", pt.Experiment, strings.Join(sw.names, ", "), name))
			point.ok = false
		}
	}
	es.sweep = point
}

// paramTypes are the type names of the values the experiment declares for
// param name, in its params, grid and random blocks.
func paramTypes(sw *sweepSpec, name string) []string {
	var out []string
	add := func(v cty.Value) {
		if t := typeName(v); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if p, ok := sw.base[name]; ok {
		add(p.v)
	}
	for _, dims := range [][]sweepDim{sw.grid, sw.random} {
		for _, d := range dims {
			if d.name == name {
				for _, p := range d.vals {
					add(p.v)
				}
			}
		}
	}
	return out
}

func renderOrNull(v cty.Value) string {
	s, err := renderValue(v)
	if err != nil {
		return "the value"
	}
	return s
}
