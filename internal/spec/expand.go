package spec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A run's command, args and env are prepared once per experiment as parts.
// Most parts are static strings or a bare param.x, which expansion copies
// without evaluating anything; templates made of literals and param.x are
// concatenated; only other expressions that use param are evaluated per
// run, in a context that adds that run's param object.
type partKind uint8

const (
	partStatic partKind = iota // s
	partParam                  // the rendered value of param idx
	partConcat                 // segs: literals and params
	partEval                   // expr evaluated per run
)

type part struct {
	kind partKind
	s    string
	idx  int
	segs []seg
	expr hcl.Expression
}

type seg struct {
	lit string
	idx int // -1 for a literal
}

type envPart struct {
	name string
	p    part
}

// runTemplate is everything expansion needs beyond the sweep.
type runTemplate struct {
	hasCommand bool
	command    part
	args       []part
	argsWhole  hcl.Expression // set when args is not a list literal and uses param
	env        []envPart
	envWhole   hcl.Expression // set when env is not an object literal and uses param
	defaultEnv []envEntry     // defaults entries not overridden statically
	ok         bool

	// Where each part was written, for diagnostics about a run's size.
	cmdRng, argsRng, envRng hcl.Range
	argRngs                 []hcl.Range // per element of a list literal
}

// argRange is where args[i] was written: its element of a list literal,
// else the whole args expression.
func (t *runTemplate) argRange(i int) hcl.Range {
	if i < len(t.argRngs) {
		return t.argRngs[i]
	}
	return t.argsRng
}

var envNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (l *loader) prepareRunTemplate(e *Experiment, sw *sweepSpec, content *hcl.BodyContent, own *settings) *runTemplate {
	t := &runTemplate{cmdRng: e.DeclRange, argsRng: e.DeclRange, envRng: e.DeclRange}
	errsBefore := countErrors(l.diags)
	idx := make(map[string]int, len(sw.names))
	for i, n := range sw.names {
		idx[n] = i
	}
	scope := func(where string) *refScope {
		s := *sw.scope
		s.where = where
		return &s
	}
	if a := content.Attributes["command"]; a != nil {
		t.cmdRng = a.Expr.Range()
		if l.checkRefs(a.Expr, scope("command"), "command") {
			t.hasCommand = true
			t.command = l.makePart(a.Expr, idx, "command")
		}
	}
	if a := content.Attributes["args"]; a != nil && l.checkRefs(a.Expr, scope("args"), "args") {
		t.argsRng = a.Expr.Range()
		if tup, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
			for i, el := range tup.Exprs {
				t.args = append(t.args, l.makePart(el, idx, fmt.Sprintf("args[%d]", i)))
				t.argRngs = append(t.argRngs, el.Range())
			}
		} else if !usesParam(a.Expr) {
			if v, ok := l.eval(a.Expr, "args"); ok {
				if list, ok := l.toStringList(v, a.Expr.Range(), "args"); ok {
					for _, s := range list {
						t.args = append(t.args, part{kind: partStatic, s: s})
					}
				}
			}
		} else {
			t.argsWhole = a.Expr
		}
	}
	overridden := map[string]bool{}
	if a := content.Attributes["env"]; a != nil && l.checkRefs(a.Expr, scope("env"), "env") {
		t.envRng = a.Expr.Range()
		if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
			for _, item := range obj.Items {
				kv, ok := l.eval(item.KeyExpr, "an env name")
				if !ok {
					continue
				}
				name, err := renderValue(kv)
				if err != nil || kv.Type() != cty.String {
					l.add(diagErr(item.KeyExpr.Range(), "Invalid env name", "Environment variable names must be strings, e.g. WANDB_MODE."))
					continue
				}
				if !l.checkEnvName(name, item.KeyExpr.Range()) {
					continue
				}
				overridden[name] = true
				t.env = append(t.env, envPart{name: name, p: l.makePart(item.ValueExpr, idx, "env."+name)})
			}
		} else if !usesParam(a.Expr) {
			for _, en := range l.staticEnv(a) {
				overridden[en.name] = true
				t.env = append(t.env, envPart{name: en.name, p: part{kind: partStatic, s: en.value}})
			}
		} else {
			t.envWhole = a.Expr
		}
	}
	for _, en := range l.defaults.env {
		if !overridden[en.name] {
			t.defaultEnv = append(t.defaultEnv, en)
		}
	}
	if content.Attributes["env"] == nil && len(t.defaultEnv) > 0 {
		t.envRng = t.defaultEnv[0].rng
	}
	t.ok = countErrors(l.diags) == errsBefore
	return t
}

func usesParam(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "param" {
			return true
		}
	}
	return false
}

// paramRef returns the parameter index when expr is exactly param.x.
func paramRef(expr hcl.Expression, idx map[string]int) (int, bool) {
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) != 2 || st.Traversal.RootName() != "param" {
		return 0, false
	}
	name, _, ok := traversalAttr(st.Traversal)
	if !ok {
		return 0, false
	}
	i, ok := idx[name]
	return i, ok
}

// makePart prepares one string-valued expression. References were checked
// by the caller.
func (l *loader) makePart(expr hcl.Expression, idx map[string]int, what string) part {
	if !usesParam(expr) {
		v, ok := l.eval(expr, what)
		if !ok {
			return part{}
		}
		s, err := renderValue(v)
		if err != nil {
			l.add(diagErr(expr.Range(), "Invalid value", "%s %s; it must be a string (numbers and bools are converted).", what, err))
		}
		return part{kind: partStatic, s: s}
	}
	if w, ok := expr.(*hclsyntax.TemplateWrapExpr); ok {
		expr = w.Wrapped
	}
	if i, ok := paramRef(expr, idx); ok {
		return part{kind: partParam, idx: i}
	}
	if tmpl, ok := expr.(*hclsyntax.TemplateExpr); ok {
		segs := make([]seg, 0, len(tmpl.Parts))
		for _, p := range tmpl.Parts {
			if i, ok := paramRef(p, idx); ok {
				segs = append(segs, seg{idx: i})
				continue
			}
			lit, ok := p.(*hclsyntax.LiteralValueExpr)
			if !ok || lit.Val.Type() != cty.String || lit.Val.IsNull() {
				return part{kind: partEval, expr: expr}
			}
			segs = append(segs, seg{lit: lit.Val.AsString(), idx: -1})
		}
		return part{kind: partConcat, segs: segs}
	}
	return part{kind: partEval, expr: expr}
}

func (l *loader) checkEnvName(name string, rng hcl.Range) bool {
	if !envNameRe.MatchString(name) {
		l.add(diagErr(rng, "Invalid env name",
			"%q is not a valid environment variable name: use letters, digits and '_', not starting with a digit.", name))
		return false
	}
	if strings.HasPrefix(name, "CARAVAN_") {
		l.add(diagErr(rng, "Reserved env name",
			"%q starts with CARAVAN_, which caravan reserves for CARAVAN_PARAM_<name> and CARAVAN_RUN_ID. Rename it.", name))
		return false
	}
	return true
}

// staticEnv evaluates an env attribute that does not use param.
func (l *loader) staticEnv(a *hcl.Attribute) []envEntry {
	v, ok := l.eval(a.Expr, "env")
	if !ok {
		return nil
	}
	t := v.Type()
	if v.IsNull() || !(t.IsObjectType() || t.IsMapType()) {
		l.wrongType(a.Expr.Range(), "env", "an object", v)
		return nil
	}
	m := v.AsValueMap()
	var out []envEntry
	for _, k := range keysOf(m) {
		if !l.checkEnvName(k, a.Expr.Range()) {
			continue
		}
		s, err := renderValue(m[k])
		if err != nil {
			l.add(diagErr(a.Expr.Range(), "Invalid env value", "env.%s %s; it must be a string.", k, err))
			continue
		}
		out = append(out, envEntry{name: k, value: s, rng: a.Expr.Range()})
	}
	return out
}
