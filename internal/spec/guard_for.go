package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxForIterations bounds the element evaluations of one outermost for
// expression, nested ones included. range() stops at 1024 values, but
// three nested fors over range(1000) are 10^9 iterations: a three-line
// file that would take minutes and tens of GB before the size check on
// locals ever sees the value.
const maxForIterations = 1 << 18

// forIterFunc is the name of the function the rewritten for expressions
// call. It is "for" because that is what the user wrote, and what an error
// message names.
const forIterFunc = "for"

// boundForExprs rewrites every for expression of body outside variable
// blocks so that each element evaluation goes through the loader's "for"
// function, which counts it: the element expression E and the collection
// C become for(E) and for(C), except that the collection of an outermost
// for becomes for(C, true), which resets the count. A function call, not a wrapper node, so that Variables() and
// every analysis of the tree still see the references inside. Variable
// blocks are left alone: their defaults are constants evaluated without
// functions.
func boundForExprs(body hcl.Body) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, b := range sb.Blocks {
		if b.Type == "variable" {
			continue
		}
		w := &forWalker{}
		hclsyntax.Walk(b.Body, w)
	}
	for _, a := range sb.Attributes {
		hclsyntax.Walk(a.Expr, &forWalker{})
	}
}

type forWalker struct{ depth int }

func (w *forWalker) Enter(n hclsyntax.Node) hcl.Diagnostics {
	f, ok := n.(*hclsyntax.ForExpr)
	if !ok {
		return nil
	}
	// Inner collections are counted too: once the budget is spent they
	// come back unknown, and a for over an unknown collection does not
	// iterate, so the refusal itself costs next to nothing.
	f.CollExpr = forCall(f.CollExpr, w.depth == 0)
	w.depth++
	f.ValExpr = forCall(f.ValExpr, false)
	if f.CondExpr != nil {
		f.CondExpr = forCall(f.CondExpr, false)
	}
	return nil
}

func (w *forWalker) Exit(n hclsyntax.Node) hcl.Diagnostics {
	if _, ok := n.(*hclsyntax.ForExpr); ok {
		w.depth--
	}
	return nil
}

func forCall(e hclsyntax.Expression, reset bool) hclsyntax.Expression {
	rng := e.Range()
	args := []hclsyntax.Expression{e}
	if reset {
		args = append(args, &hclsyntax.LiteralValueExpr{Val: cty.True, SrcRange: rng})
	}
	return &hclsyntax.FunctionCallExpr{
		Name: forIterFunc, Args: args,
		NameRange: rng, OpenParenRange: rng, CloseParenRange: rng,
	}
}

// forCounter is the per-load "for" function: for(v) counts one iteration
// and returns v; for(v, true) starts a new outermost for expression. Every
// stopEvery iterations it asks stop whether the load was interrupted: one
// for expression can run for seconds, and once stopped it returns unknown
// values silently, as after its limit, so that the evaluation ends fast.
func forCounter(stop func() bool) function.Function {
	left, sinceLook := maxForIterations, 0
	return function.New(&function.Spec{
		Params: []function.Parameter{{
			Name: "value", Type: cty.DynamicPseudoType,
			AllowNull: true, AllowUnknown: true, AllowDynamicType: true, AllowMarked: true,
		}},
		VarParam: &function.Parameter{Name: "reset", Type: cty.Bool},
		Type: func(args []cty.Value) (cty.Type, error) {
			return args[0].Type(), nil
		},
		Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
			if len(args) > 1 {
				left = maxForIterations
				return args[0], nil
			}
			if sinceLook++; sinceLook == stopEvery {
				sinceLook = 0
				if stop() {
					left = -2
				}
			}
			left--
			switch {
			case left == -1:
				return cty.NilVal, fmt.Errorf("the for expression evaluates more than %d elements (counting nested for expressions); iterate over smaller collections, or split the work into several locals", maxForIterations)
			case left < -1:
				// Reported once; HCL keeps iterating after an error,
				// so the rest must be cheap and silent.
				left = -2
				return cty.UnknownVal(ret), nil
			}
			return args[0], nil
		},
	})
}

// stopEvery is how many for iterations run between two looks at whether
// the load was interrupted (about a millisecond of work).
const stopEvery = 1024

// withForCounter returns fns plus a fresh "for" counter, for one load;
// stop reports whether the load was interrupted.
func withForCounter(fns map[string]function.Function, stop func() bool) map[string]function.Function {
	out := make(map[string]function.Function, len(fns)+1)
	for k, v := range fns {
		out[k] = v
	}
	out[forIterFunc] = forCounter(stop)
	return out
}
