package spec

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// envVarPrefix is the prefix of environment variables that set variables,
// like Terraform's TF_VAR_.
const envVarPrefix = "CARAVAN_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

// variable is one declared input variable and, after decodeVariables, its
// final value and where that value came from.
type variable struct {
	name        string
	declRange   hcl.Range
	typ         cty.Type
	tyDefaults  *typeexpr.Defaults
	hasDefault  bool
	description string
	validations []*hcl.BodyContent

	value      cty.Value // cty.DynamicVal after an error
	valueRange hcl.Range // where value was set: default, var file, -var or env
	set        bool
}

// literalMode says whether raw -var and environment values are taken as
// literal strings (then converted) rather than parsed as HCL expressions.
// As in Terraform: primitive and unconstrained types are literal, so
// -var region=eu-west-1 needs no quotes; lists, maps and objects are HCL.
func (v *variable) literalMode() bool {
	return v.typ == cty.DynamicPseudoType || v.typ.IsPrimitiveType()
}

func (l *loader) decodeVariables(blocks []*hcl.Block) {
	for _, b := range blocks {
		if l.interrupted() {
			return
		}
		v := l.decodeVariable(b)
		if v == nil {
			continue
		}
		if prev := l.vars[v.name]; prev != nil {
			l.add(diagErr(b.LabelRanges[0], "Duplicate variable declaration",
				"Variable %q was already declared at %s. Remove one of the declarations or rename it.", v.name, posString(prev.declRange)))
			continue
		}
		l.vars[v.name] = v
		l.varOrder = append(l.varOrder, v.name)
	}
	l.assignVariables()
	l.validateVariables()
	l.cfg.Variables = make(map[string]cty.Value, len(l.vars))
	for n, v := range l.vars {
		l.cfg.Variables[n] = v.value
	}
}

func (l *loader) decodeVariable(b *hcl.Block) *variable {
	name := b.Labels[0]
	content, diags := b.Body.Content(variableSchema)
	l.add(diags...)
	if !hclsyntax.ValidIdentifier(name) {
		l.add(diagErr(b.LabelRanges[0], "Invalid variable name",
			"%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter.", name))
		return nil
	}
	v := &variable{name: name, declRange: b.DefRange, typ: cty.DynamicPseudoType, value: cty.DynamicVal}
	if a := content.Attributes["type"]; a != nil {
		ty, defs, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
		l.add(d...)
		if !d.HasErrors() {
			v.typ, v.tyDefaults = ty, defs
		}
	}
	if a := content.Attributes["description"]; a != nil {
		val, d := a.Expr.Value(nil)
		l.add(d...)
		if !d.HasErrors() && val.Type() == cty.String && !val.IsNull() {
			v.description = val.AsString()
		} else if !d.HasErrors() {
			l.wrongType(a.Expr.Range(), "description", "a string", val)
		}
	}
	if a := content.Attributes["default"]; a != nil {
		// A default is a constant, as in Terraform: no references, no
		// functions that could depend on other values.
		val, d := a.Expr.Value(nil)
		l.add(d...)
		v.hasDefault = true
		if d.HasErrors() {
			v.set = true // an error was reported; do not also say "no value"
		} else {
			l.setVariable(v, val, a.Expr.Range(), "default")
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		l.add(d...)
		if !d.HasErrors() {
			vc.MissingItemRange = vb.DefRange
			v.validations = append(v.validations, vc)
		}
	}
	return v
}

// setVariable converts val to v's type and records it as v's value.
func (l *loader) setVariable(v *variable, val cty.Value, rng hcl.Range, source string) {
	v.set = true
	v.valueRange = rng
	if v.tyDefaults != nil && !val.IsNull() {
		val = v.tyDefaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		l.add(diagErr(rng, "Invalid value for variable",
			"The %s for var.%s is not a valid %s: %s. Give a value of that type.", source, v.name, typeexpr.TypeString(v.typ), err))
		v.value = cty.DynamicVal
		return
	}
	v.value = conv
}

// assignVariables applies, in Terraform's precedence from lowest to
// highest: defaults (already set), CARAVAN_VAR_ environment variables,
// -var-file files in order, then -var flags.
func (l *loader) assignVariables() {
	for _, kv := range l.opts.Env {
		k, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envVarPrefix) {
			continue
		}
		// Environment variables for undeclared variables are ignored, as
		// Terraform does: the environment is shared by many configurations.
		if v := l.vars[strings.TrimPrefix(k, envVarPrefix)]; v != nil {
			l.setRaw(v, raw, fmt.Sprintf("<value for var.%s from %s>", v.name, k), "environment variable "+k)
		}
	}
	for _, path := range l.opts.VarFiles {
		l.readVarFile(path)
	}
	names := make([]string, 0, len(l.opts.Vars))
	for n := range l.opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := l.vars[n]
		if v == nil {
			l.add(diagErr(fileRange("<value for var."+n+">"), "Value for undeclared variable",
				"-var %s=... sets a variable that no file declares. Declare it with variable %q { ... }, or remove the flag.%s", n, n, suggest(n, l.varOrder)))
			continue
		}
		l.setRaw(v, l.opts.Vars[n], fmt.Sprintf("<value for var.%s>", n), "-var value")
	}
	for _, n := range slices.Sorted(maps.Keys(l.opts.VarValues)) {
		if v := l.vars[n]; v != nil {
			l.setVariable(v, l.opts.VarValues[n], fileRange("<recorded value of var."+n+">"), "recorded value")
		}
	}
	for _, n := range l.varOrder {
		v := l.vars[n]
		if !v.set {
			l.add(diagErr(v.declRange, "No value for required variable",
				"Variable %q has no default and no value was given. Set it with -var %s=..., a -var-file, the environment variable %s%s, or add a default.", n, n, envVarPrefix, n))
		}
	}
}

// setRaw sets v from a raw string given outside any file (-var or env).
func (l *loader) setRaw(v *variable, raw, filename, source string) {
	rng := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.Pos{Line: 1, Column: 1 + len(raw), Byte: len(raw)}}
	if v.literalMode() {
		// Like Terraform, primitives are taken literally; a number or bool
		// that does not convert is then tried as an expression (-var n=2*4).
		if _, err := convert.Convert(cty.StringVal(raw), v.typ); err == nil || v.typ == cty.String || v.typ == cty.DynamicPseudoType {
			l.setVariable(v, cty.StringVal(raw), rng, source)
			return
		}
		if !checkExprTokens([]byte(raw), filename).HasErrors() {
			if expr, d := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos); !d.HasErrors() {
				if val, d := expr.Value(nil); !d.HasErrors() {
					l.setVariable(v, val, rng, source)
					return
				}
			}
		}
		l.setVariable(v, cty.StringVal(raw), rng, source) // reports the conversion error
		return
	}
	if d := checkExprTokens([]byte(raw), filename); d.HasErrors() {
		l.add(d...)
		v.set, v.value = true, cty.DynamicVal
		return
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if !diags.HasErrors() {
		var val cty.Value
		val, diags = expr.Value(nil)
		if !diags.HasErrors() {
			l.setVariable(v, val, rng, source)
			return
		}
	}
	l.add(diags...)
	v.set, v.value = true, cty.DynamicVal
}

// readVarFile applies one -var-file: HCL attributes name = value, or a JSON
// object when the name ends in .json. Values are constants, as in
// Terraform's .tfvars files.
func (l *loader) readVarFile(path string) {
	src, diags := readFile(path, "variables file")
	if diags.HasErrors() {
		l.add(diags...)
		return
	}
	if d := checkText(src, path); d != nil {
		l.add(d)
		return
	}
	var f *hcl.File
	if strings.HasSuffix(path, ".json") {
		if d := checkJSONDepth(src, path); d.HasErrors() {
			l.add(d...)
			return
		}
		f, diags = json.Parse(src, path)
	} else {
		if d := checkTokens(src, path); d.HasErrors() {
			l.add(d...)
			return
		}
		f, diags = hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	}
	l.add(diags...)
	if f != nil {
		// Kept even when it does not parse, so that the syntax error is
		// printed with its source line like any other.
		l.cfg.Files[path] = f
	}
	if f == nil || diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	l.add(diags...)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
	for _, n := range names {
		a := attrs[n]
		v := l.vars[n]
		if v == nil {
			l.add(diagWarn(a.NameRange, "Value for undeclared variable",
				"%s sets %q, which no file declares; it is ignored. Declare it with variable %q { ... } or remove the line.%s", path, n, n, suggest(n, l.varOrder)))
			continue
		}
		val, d := a.Expr.Value(nil)
		l.add(d...)
		if d.HasErrors() {
			v.set, v.value = true, cty.DynamicVal
			continue
		}
		l.setVariable(v, val, a.Expr.Range(), "value in "+path)
	}
}

// validateVariables runs every validation block against the final values.
// Conditions may reference any variable; a value that already failed to
// convert is skipped so that one mistake gives one diagnostic.
func (l *loader) validateVariables() {
	vals := make(map[string]cty.Value, len(l.vars))
	for n, v := range l.vars {
		vals[n] = v.value
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)}, Functions: l.funcs}
	for _, n := range l.varOrder {
		v := l.vars[n]
		for _, vc := range v.validations {
			cond, msg := vc.Attributes["condition"], vc.Attributes["error_message"]
			if !l.checkVarOnlyRefs(cond.Expr) || !l.checkVarOnlyRefs(msg.Expr) {
				continue
			}
			if !v.value.IsWhollyKnown() {
				continue
			}
			res, d := cond.Expr.Value(ctx)
			l.add(d...)
			if d.HasErrors() || !res.IsWhollyKnown() {
				continue
			}
			if res.IsNull() || res.Type() != cty.Bool {
				l.add(diagErr(cond.Expr.Range(), "Invalid validation condition",
					"condition must be true or false, but this is %s. Write a comparison such as var.%s > 0.", typeName(res), n))
				continue
			}
			if res.True() {
				continue
			}
			text := "The value does not satisfy the validation rule."
			if m, d := msg.Expr.Value(ctx); !d.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
				text = m.AsString()
			} else {
				l.add(d...)
			}
			subject := v.valueRange
			if subject.Filename == "" {
				subject = v.declRange
			}
			l.add(diagErr(subject, "Invalid value for variable",
				"%s\n\nThis was checked by the validation rule at %s. Give var.%s a value that satisfies it.", text, posString(cond.Expr.Range()), n))
		}
	}
}

// checkVarOnlyRefs reports references other than var.X in validation rules.
func (l *loader) checkVarOnlyRefs(expr hcl.Expression) bool {
	ok := true
	for _, tr := range expr.Variables() {
		name, rng, has := traversalAttr(tr)
		switch {
		case tr.RootName() != "var":
			l.add(diagErr(tr.SourceRange(), "Invalid reference in validation",
				"A validation rule may only reference input variables (var.<name>), not %s.", tr.RootName()))
			ok = false
		case !has:
			l.add(diagErr(tr.SourceRange(), "Invalid reference", "A reference to var needs a name, e.g. var.lr."))
			ok = false
		case l.vars[name] == nil:
			l.add(diagErr(rng, "Reference to undeclared input variable",
				"There is no variable %q. Declare it or fix the name.%s", name, suggest(name, l.varOrder)))
			ok = false
		}
	}
	return ok
}
