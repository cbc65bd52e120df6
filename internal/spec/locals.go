package spec

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// localDef is one local value and its evaluation state.
type localDef struct {
	attr  *hcl.Attribute
	state int // 0 not started, 1 in progress, 2 done
	value cty.Value
}

// decodeLocals collects every locals block and evaluates the values in
// dependency order. A local may reference variables, functions and other
// locals; a reference cycle is reported once, at the local that closes it.
func (l *loader) decodeLocals(blocks []*hcl.Block) {
	var order []string
	for _, b := range blocks {
		if l.interrupted() {
			return
		}
		attrs, diags := b.Body.JustAttributes()
		l.add(diags...)
		sorted := make([]*hcl.Attribute, 0, len(attrs))
		for _, a := range attrs {
			sorted = append(sorted, a)
		}
		sortAttrs(sorted)
		for _, a := range sorted {
			if prev := l.locals[a.Name]; prev != nil {
				l.add(diagErr(a.NameRange, "Duplicate local value",
					"local.%s was already defined at %s. Remove one definition or rename it.", a.Name, posString(prev.attr.NameRange)))
				continue
			}
			l.locals[a.Name] = &localDef{attr: a}
			order = append(order, a.Name)
		}
	}
	vars := make(map[string]cty.Value, len(l.vars))
	for n, v := range l.vars {
		vars[n] = v.value
	}
	varObj := cty.ObjectVal(vars)
	l.localVals = make(map[string]cty.Value, len(order))
	for _, n := range order {
		if l.interrupted() {
			return
		}
		l.evalLocal(n, varObj, nil)
	}
}

// evalLocal evaluates local n after its dependencies. stack holds the
// locals being evaluated, to name the cycle when there is one.
func (l *loader) evalLocal(n string, varObj cty.Value, stack []string) cty.Value {
	ld := l.locals[n]
	switch ld.state {
	case 2:
		return ld.value
	case 1:
		cycle := append(append([]string{}, stack[indexOf(stack, n):]...), n)
		l.add(diagErr(ld.attr.NameRange, "Cycle in local values",
			"local.%s depends on itself: %s. Break the cycle by computing one of them without the others.", n, "local."+strings.Join(cycle, " → local.")))
		ld.state, ld.value = 2, cty.DynamicVal
		l.localVals[n] = ld.value
		return ld.value
	}
	ld.state = 1
	stack = append(stack, n)
	if !l.checkRefs(ld.attr.Expr, nil, "local."+n) {
		ld.state, ld.value = 2, cty.DynamicVal
		l.localVals[n] = ld.value
		return ld.value
	}
	deps := map[string]cty.Value{}
	for _, tr := range ld.attr.Expr.Variables() {
		if tr.RootName() != "local" {
			continue
		}
		if dn, _, ok := traversalAttr(tr); ok {
			deps[dn] = l.evalLocal(dn, varObj, stack)
		}
	}
	if ld.state == 2 { // a cycle through n was reported while evaluating deps
		return ld.value
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": varObj, "local": cty.ObjectVal(deps)},
		Functions: l.funcs,
	}
	v, diags := ld.attr.Expr.Value(ctx)
	l.add(diags...)
	if diags.HasErrors() {
		v = cty.DynamicVal
	} else if valueTooLarge(v) {
		l.add(diagErr(ld.attr.Expr.Range(), "Value too large",
			"local.%s is larger than %d bytes and elements together. Build smaller values; caravan refuses them so that a few lines cannot exhaust memory.", n, maxValueSize))
		v = cty.DynamicVal
	}
	ld.state, ld.value = 2, v
	l.localVals[n] = v
	return v
}

func indexOf(s []string, x string) int {
	for i, e := range s {
		if e == x {
			return i
		}
	}
	return 0
}

// sortAttrs orders attributes by source position (JustAttributes returns a map).
func sortAttrs(as []*hcl.Attribute) {
	sort.Slice(as, func(i, j int) bool { return as[i].Range.Start.Byte < as[j].Range.Start.Byte })
}

// attrsInOrder returns the attributes of m in source order, so that
// diagnostics come out in the order of the file.
func attrsInOrder(m hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sortAttrs(out)
	return out
}
