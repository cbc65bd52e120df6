package spec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// expandAll turns every experiment that decoded cleanly into its runs.
// Runs of one experiment share its *Experiment and parameter names; their
// Params and Args are carved out of one allocation per experiment.
func (l *loader) expandAll() {
	total := 0
	for _, es := range l.exps {
		if es.ok && es.sweep.ok && es.tmpl.ok {
			total += es.sweep.size
		}
	}
	l.cfg.Runs = make([]Run, 0, total)
	for _, es := range l.exps {
		if l.interrupted() {
			return
		}
		if es.ok && es.sweep.ok && es.tmpl.ok {
			l.expand(es)
		}
	}
}

// paramSource says where each parameter of a run comes from.
type paramSource struct {
	kind int // 0 base, 1 grid dim, 2 random dim
	dim  int
}

// expand builds the runs of one experiment, one per sweep point: grid
// points in odometer order (last dimension fastest), each repeated for
// every random sample. A run that fails to evaluate stops the experiment
// and drops the runs it already built.
func (l *loader) expand(es *expState) {
	sw, t, e := es.sweep, es.tmpl, es.e
	names := sw.names
	k := len(names)
	src := paramSources(sw)
	n := sw.size
	var x runRenderer
	x.init(t, src, n)
	params := make([]Param, n*k)
	cur := make([]pval, k)           // this run's values
	odo := make([]int, len(sw.grid)) // grid odometer, last dim fastest
	start := len(l.cfg.Runs)
	x.run.l, x.run.cur, x.run.names = l, cur, names
	fixed := fixedBytes(e)

	for i := 0; i < n; i++ {
		// Every point: one can take seconds (a large for expression
		// in args), and a look costs tens of nanoseconds.
		if l.interrupted() {
			break
		}
		gi, si := i/sw.samples, i%sw.samples
		if si == 0 && gi > 0 {
			nextGridPoint(odo, sw.grid)
		}
		sw.pointValues(cur, src, odo, si)
		p := params[i*k : (i+1)*k : (i+1)*k]
		for j := range p {
			p[j] = Param{Name: names[j], Value: cur[j].v}
		}
		x.run.ctx = nil
		r := Run{Experiment: e, Index: i, Params: p}
		if !x.render(&r) || !x.run.checkSize(&r, t, fixed) {
			break
		}
		l.cfg.Runs = append(l.cfg.Runs, r)
	}
	if x.run.failed {
		// One diagnostic per experiment was reported; its partial runs
		// would be misleading.
		l.cfg.Runs = l.cfg.Runs[:start]
	}
}

// paramSources says, for each of sw.names, where its value comes from.
func paramSources(sw *sweepSpec) []paramSource {
	src := make([]paramSource, len(sw.names))
	for i, n := range sw.names {
		src[i] = paramSource{kind: 0}
		for d := range sw.grid {
			if sw.grid[d].name == n {
				src[i] = paramSource{kind: 1, dim: d}
			}
		}
		for d := range sw.random {
			if sw.random[d].name == n {
				src[i] = paramSource{kind: 2, dim: d}
			}
		}
	}
	return src
}

// nextGridPoint advances the odometer odo to the next point of the grid,
// the last dimension fastest.
func nextGridPoint(odo []int, grid []sweepDim) {
	for d := len(odo) - 1; d >= 0; d-- {
		odo[d]++
		if odo[d] < len(grid[d].vals) {
			break
		}
		odo[d] = 0
	}
}

// pointValues fills cur with the values of the sweep point at grid point
// odo and random sample si.
func (sw *sweepSpec) pointValues(cur []pval, src []paramSource, odo []int, si int) {
	for j := range sw.names {
		switch s := src[j]; s.kind {
		case 0:
			cur[j] = sw.base[sw.names[j]]
		case 1:
			cur[j] = sw.grid[s.dim].vals[odo[s.dim]]
		default:
			cur[j] = sw.random[s.dim].vals[si]
		}
	}
}

// runRenderer renders the command, args and env of an experiment's runs.
// Args and env that do not depend on a swept parameter are the same for
// every run: they are built once and shared (Run documents them as
// read-only), and the args of all runs are carved out of one allocation.
type runRenderer struct {
	t          *runTemplate
	run        runEval
	sb         strings.Builder
	argsShared bool
	envShared  bool
	args       []string // backing array of the rendered args
	sharedArgs []string
	sharedEnv  map[string]string
}

// init decides which of the template's parts runs share and allocates
// the args of n runs.
func (x *runRenderer) init(t *runTemplate, src []paramSource, n int) {
	varying := make([]bool, len(src))
	for i := range src {
		varying[i] = src[i].kind != 0
	}
	x.t = t
	x.argsShared = t.argsWhole == nil && !anyVarying(t.args, varying)
	x.envShared = t.envWhole == nil && !anyVaryingEnv(t.env, varying)
	switch {
	case x.argsShared:
		x.args = make([]string, len(t.args))
	case t.argsWhole == nil:
		x.args = make([]string, n*len(t.args))
	}
}

// render sets the command, args and env of r from the current point; false
// means a diagnostic was reported.
func (x *runRenderer) render(r *Run) bool {
	t := x.t
	var ok bool
	if t.hasCommand {
		if r.Command, ok = x.run.render(&t.command, &x.sb, "command"); !ok {
			return false
		}
	}
	if !x.renderArgs(r) {
		return false
	}
	if x.envShared && r.Index > 0 {
		r.Env = x.sharedEnv
	} else if r.Env, ok = x.run.env(t, &x.sb); !ok {
		return false
	}
	x.sharedEnv = r.Env
	return true
}

func (x *runRenderer) renderArgs(r *Run) bool {
	t := x.t
	switch {
	case t.argsWhole != nil:
		var ok bool
		r.Args, ok = x.run.evalList(t.argsWhole)
		return ok
	case x.argsShared && r.Index > 0:
		r.Args = x.sharedArgs
		return true
	case len(t.args) == 0:
		return true
	}
	off := r.Index
	if x.argsShared {
		off = 0
	}
	w := len(t.args)
	a := x.args[off*w : (off+1)*w : (off+1)*w]
	for j := range t.args {
		var ok bool
		if a[j], ok = x.run.render(&t.args[j], &x.sb, "args"); !ok {
			return false
		}
	}
	r.Args = a
	x.sharedArgs = a
	return true
}

func partVarying(p *part, varying []bool) bool {
	switch p.kind {
	case partParam:
		return varying[p.idx]
	case partConcat:
		for _, s := range p.segs {
			if s.idx >= 0 && varying[s.idx] {
				return true
			}
		}
	case partEval:
		return true
	}
	return false
}

func anyVarying(parts []part, varying []bool) bool {
	for i := range parts {
		if partVarying(&parts[i], varying) {
			return true
		}
	}
	return false
}

func anyVaryingEnv(parts []envPart, varying []bool) bool {
	for i := range parts {
		if partVarying(&parts[i].p, varying) {
			return true
		}
	}
	return false
}

// runEval evaluates the per-run parts of one run.
type runEval struct {
	l      *loader
	cur    []pval
	names  []string
	ctx    *hcl.EvalContext // built on first need per run
	failed bool
}

func (r *runEval) context() *hcl.EvalContext {
	if r.ctx == nil {
		m := make(map[string]cty.Value, len(r.names))
		for i, n := range r.names {
			m[n] = r.cur[i].v
		}
		r.ctx = r.l.ctx.NewChild()
		r.ctx.Variables = map[string]cty.Value{"param": cty.ObjectVal(m)}
	}
	return r.ctx
}

func (r *runEval) render(p *part, sb *strings.Builder, what string) (string, bool) {
	switch p.kind {
	case partStatic:
		return p.s, true
	case partParam:
		return r.cur[p.idx].s, true
	case partConcat:
		sb.Reset()
		for _, s := range p.segs {
			if s.idx < 0 {
				sb.WriteString(s.lit)
			} else {
				sb.WriteString(r.cur[s.idx].s)
			}
		}
		return sb.String(), true
	}
	v, diags := p.expr.Value(r.context())
	if diags.HasErrors() {
		r.fail(p.expr.Range(), what, diags.Error())
		return "", false
	}
	s, err := renderValue(v)
	if err != nil {
		r.fail(p.expr.Range(), what, "the value "+err.Error()+"; it must be a string")
		return "", false
	}
	return s, true
}

func (r *runEval) evalList(expr hcl.Expression) ([]string, bool) {
	v, diags := expr.Value(r.context())
	if diags.HasErrors() {
		r.fail(expr.Range(), "args", diags.Error())
		return nil, false
	}
	t := v.Type()
	if v.IsNull() || !v.IsWhollyKnown() || !(t.IsTupleType() || t.IsListType()) {
		r.fail(expr.Range(), "args", "the value is "+typeName(v)+", not a list of strings")
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		s, err := renderValue(ev)
		if err != nil {
			r.fail(expr.Range(), "args", "an element "+err.Error()+"; every element must be a string")
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (r *runEval) env(t *runTemplate, sb *strings.Builder) (map[string]string, bool) {
	if len(t.env) == 0 && len(t.defaultEnv) == 0 && t.envWhole == nil {
		return nil, true
	}
	m := make(map[string]string, len(t.env)+len(t.defaultEnv))
	for _, en := range t.defaultEnv {
		m[en.name] = en.value
	}
	if t.envWhole != nil {
		v, diags := t.envWhole.Value(r.context())
		if diags.HasErrors() {
			r.fail(t.envWhole.Range(), "env", diags.Error())
			return nil, false
		}
		ty := v.Type()
		if v.IsNull() || !v.IsWhollyKnown() || !(ty.IsObjectType() || ty.IsMapType()) {
			r.fail(t.envWhole.Range(), "env", "the value is "+typeName(v)+", not an object of strings")
			return nil, false
		}
		// Sorted, so that the first bad entry reported is the same on
		// every run of validate.
		vals := v.AsValueMap()
		for _, k := range keysOf(vals) {
			ev := vals[k]
			s, err := renderValue(ev)
			if err != nil || !envNameRe.MatchString(k) || strings.HasPrefix(k, "CARAVAN_") {
				r.fail(t.envWhole.Range(), "env", fmt.Sprintf("entry %q is not a valid environment variable (name of letters, digits and '_', not CARAVAN_*, with a string value)", k))
				return nil, false
			}
			m[k] = s
		}
	}
	for i := range t.env {
		s, ok := r.render(&t.env[i].p, sb, "env."+t.env[i].name)
		if !ok {
			return nil, false
		}
		m[t.env[i].name] = s
	}
	return m, true
}

func (r *runEval) fail(rng hcl.Range, what, msg string) {
	r.failed = true
	r.l.add(diagErr(rng, "Invalid value for a run",
		"Evaluating %s for %s failed: %s. Fix the expression so that it gives a string for every sweep point.", what, r.describe(), msg))
}
