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

func (l *loader) expand(es *expState) {
	sw, t, e := es.sweep, es.tmpl, es.e
	names := sw.names
	k := len(names)
	src := make([]paramSource, k)
	for i, n := range names {
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
	n := sw.size
	// Args and env that do not depend on a swept parameter are the same for
	// every run: they are built once and shared (Run documents them as
	// read-only).
	varying := make([]bool, k)
	for i := range src {
		varying[i] = src[i].kind != 0
	}
	argsShared := t.argsWhole == nil && !anyVarying(t.args, varying)
	envShared := t.envWhole == nil && !anyVaryingEnv(t.env, varying)
	params := make([]Param, n*k)
	var args []string
	switch {
	case argsShared:
		args = make([]string, len(t.args))
	case t.argsWhole == nil:
		args = make([]string, n*len(t.args))
	}
	var sharedArgs []string
	var sharedEnv map[string]string
	cur := make([]pval, k)           // this run's values
	odo := make([]int, len(sw.grid)) // grid odometer, last dim fastest
	start := len(l.cfg.Runs)
	var sb strings.Builder
	var run runEval
	run.l, run.cur, run.names = l, cur, names
	fixed := fixedBytes(e)

	for i := 0; i < n; i++ {
		// Every point: one can take seconds (a large for expression
		// in args), and a look costs tens of nanoseconds.
		if l.interrupted() {
			break
		}
		gi, si := i/sw.samples, i%sw.samples
		if si == 0 && gi > 0 {
			for d := len(odo) - 1; d >= 0; d-- {
				odo[d]++
				if odo[d] < len(sw.grid[d].vals) {
					break
				}
				odo[d] = 0
			}
		}
		for j := range names {
			switch s := src[j]; s.kind {
			case 0:
				cur[j] = sw.base[names[j]]
			case 1:
				cur[j] = sw.grid[s.dim].vals[odo[s.dim]]
			default:
				cur[j] = sw.random[s.dim].vals[si]
			}
		}
		p := params[i*k : (i+1)*k : (i+1)*k]
		for j := range p {
			p[j] = Param{Name: names[j], Value: cur[j].v}
		}
		run.ctx = nil
		r := Run{Experiment: e, Index: i, Params: p}
		var ok bool
		if t.hasCommand {
			if r.Command, ok = run.render(&t.command, &sb, "command"); !ok {
				break
			}
		}
		if t.argsWhole != nil {
			if r.Args, ok = run.evalList(t.argsWhole); !ok {
				break
			}
		} else if argsShared && i > 0 {
			r.Args = sharedArgs
		} else if len(t.args) > 0 {
			off := i
			if argsShared {
				off = 0
			}
			a := args[off*len(t.args) : (off+1)*len(t.args) : (off+1)*len(t.args)]
			for j := range t.args {
				if a[j], ok = run.render(&t.args[j], &sb, "args"); !ok {
					break
				}
			}
			if !ok {
				break
			}
			r.Args = a
			sharedArgs = a
		}
		if envShared && i > 0 {
			r.Env = sharedEnv
		} else if r.Env, ok = run.env(t, &sb); !ok {
			break
		}
		sharedEnv = r.Env
		if !run.checkSize(&r, t, fixed) {
			break
		}
		l.cfg.Runs = append(l.cfg.Runs, r)
	}
	if run.failed {
		// One diagnostic per experiment was reported; its partial runs
		// would be misleading.
		l.cfg.Runs = l.cfg.Runs[:start]
	}
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
