package spec

import (
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// refScope says which parameters an expression may reference. A nil scope
// forbids param entirely; an incomplete scope (the sweep itself had errors)
// allows every name so that one mistake is not reported twice.
type refScope struct {
	params   map[string]bool
	complete bool
	where    string // what the expression is, for messages: "args"
}

// checkRefs validates every variable reference in expr: var.X must be a
// declared variable, local.X a declared local, param.X a defined parameter
// where params are allowed at all. It reports each bad reference at its own
// range and returns whether all were good.
func (l *loader) checkRefs(expr hcl.Expression, scope *refScope, what string) bool {
	l.checkDupKeys(expr, what)
	ok := true
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		switch root {
		case "var", "local":
			name, rng, has := traversalAttr(tr)
			if !has {
				l.add(diagErr(tr.SourceRange(), "Invalid reference",
					"A reference to %s needs a name, e.g. %s.lr.", root, root))
				ok = false
				continue
			}
			if root == "var" && l.vars[name] == nil {
				l.add(diagErr(rng, "Reference to undeclared input variable",
					"There is no variable %q. Declare it with a variable %q { ... } block, or fix the name.%s", name, name, suggest(name, keysOf(l.vars))))
				ok = false
			}
			if root == "local" && l.locals[name] == nil {
				l.add(diagErr(rng, "Reference to undeclared local value",
					"There is no local value %q. Define it in a locals { ... } block, or fix the name.%s", name, suggest(name, keysOf(l.locals))))
				ok = false
			}
		case "param":
			if scope == nil {
				l.add(diagErr(tr.SourceRange(), "Parameter not allowed here",
					"%s cannot use param: each run's parameters are only available in command, args and env. Use a variable or a local instead.", what))
				ok = false
				continue
			}
			name, rng, has := traversalAttr(tr)
			if has && scope.complete && !scope.params[name] {
				l.add(diagErr(rng, "Undefined parameter",
					"param.%s is used in %s but neither params nor the sweep defines %q. Add %s = ... to params, or to sweep.grid or sweep.random.%s",
					name, scope.where, name, name, suggest(name, keysOf(scope.params))))
				ok = false
			}
		default:
			l.add(diagErr(tr.SourceRange(), "Unknown variable",
				"There is no variable named %q here. Expressions may reference var.<name>, local.<name>, and param.<name> in command, args and env.", root))
			ok = false
		}
	}
	return ok
}

// traversalAttr returns the first step after the root of tr when it is an
// attribute or a string index: var.lr and var["lr"] both name "lr".
func traversalAttr(tr hcl.Traversal) (string, hcl.Range, bool) {
	if len(tr) < 2 {
		return "", hcl.Range{}, false
	}
	switch s := tr[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, hcl.RangeBetween(tr[0].SourceRange(), s.SrcRange), true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), hcl.RangeBetween(tr[0].SourceRange(), s.SrcRange), true
		}
	}
	return "", hcl.Range{}, false
}

// eval checks the references of expr (param not allowed) and evaluates it.
// ok is false when there were errors or the value is unknown because of
// errors reported elsewhere; then nothing more should be checked.
func (l *loader) eval(expr hcl.Expression, what string) (cty.Value, bool) {
	if !l.checkRefs(expr, nil, what) {
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(l.ctx)
	l.add(diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.DynamicVal, false
	}
	return v, true
}

// wrongType reports a value of the wrong type at rng.
func (l *loader) wrongType(rng hcl.Range, name, want string, got cty.Value) {
	l.add(diagErr(rng, "Incorrect attribute value type",
		"%s must be %s, but this is %s. %s", name, want, typeName(got), exampleFor(want)))
}

func typeName(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a bool"
	case t.IsTupleType() || t.IsListType():
		return "a list"
	case t.IsObjectType() || t.IsMapType():
		return "an object"
	case t.IsSetType():
		return "a set"
	}
	return t.FriendlyName()
}

func exampleFor(want string) string {
	switch want {
	case "a string":
		return `Write it in quotes, e.g. "value".`
	case "a whole number":
		return "Write a number without quotes or fraction, e.g. 2."
	case "a list of strings":
		return `Write it as ["a", "b"].`
	case "a size string":
		return `Write a number and a unit in quotes, e.g. "16GiB" or "512MB".`
	case "a duration string":
		return `Write a Go duration in quotes, e.g. "12h" or "90m".`
	case "a number":
		return "Write a number without quotes, e.g. 32.5."
	case "a bool":
		return "Write true or false."
	case "an object":
		return "Write it as { name = value, ... }."
	}
	return ""
}

// attrString evaluates a to a non-null string.
func (l *loader) attrString(a *hcl.Attribute) (string, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return "", false
	}
	if v.IsNull() {
		l.wrongType(a.Expr.Range(), a.Name, "a string", v)
		return "", false
	}
	// Numbers and bools convert like in Terraform; lists and objects do not.
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		l.wrongType(a.Expr.Range(), a.Name, "a string", v)
		return "", false
	}
	return s.AsString(), true
}

// attrInt evaluates a to a whole number that fits in an int32 (every count
// caravan reads is far below that).
func (l *loader) attrInt(a *hcl.Attribute) (int, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return 0, false
	}
	return l.toInt(v, a.Expr.Range(), a.Name)
}

func (l *loader) toInt(v cty.Value, rng hcl.Range, name string) (int, bool) {
	if v.IsNull() {
		l.wrongType(rng, name, "a whole number", v)
		return 0, false
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		l.wrongType(rng, name, "a whole number", v)
		return 0, false
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() {
		l.add(diagErr(rng, "Invalid value", "%s must be a whole number, not %s.", name, bf.Text('g', 10)))
		return 0, false
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31-1 || i < -(1<<31) {
		l.add(diagErr(rng, "Invalid value", "%s is out of range; use a number between %d and %d.", name, -(1 << 31), 1<<31-1))
		return 0, false
	}
	return int(i), true
}

// attrNumber evaluates a to a float64.
func (l *loader) attrNumber(a *hcl.Attribute) (float64, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return 0, false
	}
	if v.IsNull() {
		l.wrongType(a.Expr.Range(), a.Name, "a number", v)
		return 0, false
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		l.wrongType(a.Expr.Range(), a.Name, "a number", v)
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, true
}

// attrStringList evaluates a to a list of non-null strings.
func (l *loader) attrStringList(a *hcl.Attribute) ([]string, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return nil, false
	}
	return l.toStringList(v, a.Expr.Range(), a.Name)
}

func (l *loader) toStringList(v cty.Value, rng hcl.Range, name string) ([]string, bool) {
	t := v.Type()
	if v.IsNull() || !(t.IsTupleType() || t.IsListType() || t.IsSetType()) {
		l.wrongType(rng, name, "a list of strings", v)
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			l.add(diagErr(rng, "Invalid value", "%s contains null; every element must be a string.", name))
			return nil, false
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil {
			l.wrongType(rng, name, "a list of strings", v)
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

// attrSize evaluates a to a positive byte size written with a unit.
func (l *loader) attrSize(a *hcl.Attribute) (int64, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return 0, false
	}
	rng := a.Expr.Range()
	if v.IsNull() || v.Type() != cty.String {
		l.add(diagErr(rng, "Invalid size",
			"%s must be a size string with a unit, e.g. \"16GiB\" or \"512MB\"; a bare number is ambiguous (Nomad reads MiB, Docker bytes).", a.Name))
		return 0, false
	}
	s := v.AsString()
	if strings.TrimRight(strings.TrimSpace(s), "0123456789.") == "" {
		l.add(diagErr(rng, "Invalid size", "%s = %q has no unit; write e.g. \"%sMiB\" or \"%sGB\".", a.Name, s, s, s))
		return 0, false
	}
	n, err := ParseSize(s)
	if err != nil {
		l.add(diagErr(rng, "Invalid size", "%s: %s.", a.Name, err))
		return 0, false
	}
	if n <= 0 {
		l.add(diagErr(rng, "Invalid size", "%s must be larger than zero; remove the attribute to leave it unset.", a.Name))
		return 0, false
	}
	return n, true
}

// attrDuration evaluates a to a positive Go duration.
func (l *loader) attrDuration(a *hcl.Attribute) (time.Duration, bool) {
	v, ok := l.eval(a.Expr, a.Name)
	if !ok {
		return 0, false
	}
	rng := a.Expr.Range()
	if v.IsNull() || v.Type() != cty.String {
		l.add(diagErr(rng, "Invalid duration", "%s must be a duration string, e.g. \"12h\" or \"90m\".", a.Name))
		return 0, false
	}
	d, err := parseDuration(v.AsString())
	if err != nil {
		l.add(diagErr(rng, "Invalid duration", "%s: %s.", a.Name, err))
		return 0, false
	}
	return d, true
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns " Did you mean "x"?" for the closest known name, or "".
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " Did you mean \"" + best + "\"?"
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
