package spec

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Limits that keep hostile input from exhausting the stack or memory. The
// HCL parser and evaluator recurse once per nesting level, and a Go stack
// overflow is fatal (not a recoverable panic), so nesting is measured on the
// flat token stream before anything is parsed.
const (
	maxFileBytes    = 8 << 20 // one configuration file
	maxNesting      = 256     // brackets, braces, parentheses, templates, blocks
	maxUnaryChain   = 256     // consecutive unary operators: - - - ! ! x
	maxOperators    = 100000  // binary operators in one top-level statement
	maxNumberExpDig = 4       // digits in a number literal's exponent (1e9999 at most)
)

// checkTokens scans src and reports the first place where it exceeds the
// limits above. It returns no diagnostics for ordinary files, including
// lexically invalid ones: the parser reports those better.
func checkTokens(src []byte, filename string) hcl.Diagnostics {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	return checkTokenList(toks)
}

// checkExprTokens is checkTokens for a lone expression (-var values).
func checkExprTokens(src []byte, filename string) hcl.Diagnostics {
	toks, _ := hclsyntax.LexExpression(src, filename, hcl.InitialPos)
	return checkTokenList(toks)
}

// checkJSONDepth bounds the nesting of a JSON document, which the JSON
// parser also handles recursively.
func checkJSONDepth(src []byte, filename string) hcl.Diagnostics {
	depth, inString, escaped := 0, false, false
	for _, c := range src {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			if depth > maxNesting {
				return tooDeep(fileRange(filename), fmt.Sprintf("more than %d levels of nested arrays or objects", maxNesting))
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

func checkTokenList(toks hclsyntax.Tokens) hcl.Diagnostics {
	depth, unary, ops := 0, 0, 0
	prev := hclsyntax.TokenNewline
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			depth++
			if depth > maxNesting {
				return tooDeep(t.Range, fmt.Sprintf("more than %d levels of nested brackets, blocks or templates", maxNesting))
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if depth > 0 {
				depth--
			}
		case hclsyntax.TokenNewline:
			if depth == 0 {
				ops = 0
			}
		case hclsyntax.TokenNumberLit:
			if d := hugeNumber(string(t.Bytes)); d != nil {
				return d.withSubject(t.Range)
			}
		}
		if isOperator(t.Type) {
			ops++
			if ops > maxOperators {
				return tooDeep(t.Range, fmt.Sprintf("more than %d operators in one expression", maxOperators))
			}
			if isOperator(prev) || prev == hclsyntax.TokenEqual || prev == hclsyntax.TokenOParen || prev == hclsyntax.TokenOBrack || prev == hclsyntax.TokenComma {
				unary++
				if unary > maxUnaryChain {
					return tooDeep(t.Range, fmt.Sprintf("more than %d unary operators in a row", maxUnaryChain))
				}
			} else {
				unary = 1
			}
		} else {
			unary = 0
		}
		prev = t.Type
	}
	return nil
}

func isOperator(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
		hclsyntax.TokenPercent, hclsyntax.TokenBang, hclsyntax.TokenAnd, hclsyntax.TokenOr,
		hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
		hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
		hclsyntax.TokenQuestion:
		return true
	}
	return false
}

func tooDeep(rng hcl.Range, what string) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Expression too complex",
		Detail:   "This file has " + what + ". Flatten the expression, or compute the value with locals step by step.",
		Subject:  rng.Ptr(),
	}}
}

type pendingDiag struct{ summary, detail string }

func (p *pendingDiag) withSubject(rng hcl.Range) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: p.summary, Detail: p.detail, Subject: rng.Ptr()}}
}

// hugeNumber refuses number literals whose exponent has more than
// maxNumberExpDig digits: rendering 1e99999999 as decimal text would take
// minutes and gigabytes.
func hugeNumber(lit string) *pendingDiag {
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return nil
	}
	exp := strings.TrimLeft(lit[i+1:], "+-")
	exp = strings.TrimLeft(exp, "0")
	if len(exp) <= maxNumberExpDig {
		return nil
	}
	return &pendingDiag{
		summary: "Number out of range",
		detail:  fmt.Sprintf("The exponent of %s is too large; numbers must be within 1e-9999 .. 1e9999.", strconv.Quote(lit)),
	}
}

func bigFloat(n int64) *big.Float { return new(big.Float).SetInt64(n) }

// maxBinaryExp bounds the binary exponent of computed numbers (about
// 1e±9864). Multiplication and division can square a number's magnitude
// at every step, through a chain of locals as well as within one
// expression, and rendering 1e999999999 as text would take minutes.
const maxBinaryExp = 1 << 15

// boundedOps replaces the multiply and divide operations of the parsed
// syntax tree with ones that refuse results beyond maxBinaryExp. The tree
// belongs to this load, so nothing global is changed.
func boundedOps(body hcl.Body) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	hclsyntax.VisitAll(sb, func(n hclsyntax.Node) hcl.Diagnostics {
		if b, ok := n.(*hclsyntax.BinaryOpExpr); ok {
			switch b.Op {
			case hclsyntax.OpMultiply:
				b.Op = boundedMultiply
			case hclsyntax.OpDivide:
				b.Op = boundedDivide
			}
		}
		return nil
	})
}

var (
	boundedMultiply = &hclsyntax.Operation{Impl: boundNumber(stdlib.MultiplyFunc), Type: cty.Number}
	boundedDivide   = &hclsyntax.Operation{Impl: boundNumber(stdlib.DivideFunc), Type: cty.Number}
)

func boundNumber(f function.Function) function.Function {
	return function.New(&function.Spec{
		Params: f.Params(),
		Type:   function.StaticReturnType(cty.Number),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil || !v.IsKnown() || v.IsNull() {
				return v, err
			}
			if bf := v.AsBigFloat(); !bf.IsInf() && bf.Sign() != 0 {
				if e := bf.MantExp(nil); e > maxBinaryExp || e < -maxBinaryExp {
					return cty.NilVal, fmt.Errorf("the result is out of range; numbers must be within about 1e-9800 .. 1e9800")
				}
			}
			return v, nil
		},
	})
}

// maxValueSize bounds a local value: string bytes plus collection elements.
// Without it, locals that each repeat the previous one twice ("billion
// laughs") reach gigabytes in thirty lines.
const maxValueSize = 16 << 20

// valueTooLarge reports whether v's size exceeds maxValueSize, walking at
// most that much of it.
func valueTooLarge(v cty.Value) bool {
	budget := maxValueSize
	var walk func(cty.Value) bool
	walk = func(v cty.Value) bool {
		if !v.IsKnown() || v.IsNull() {
			return false
		}
		t := v.Type()
		switch {
		case t == cty.String:
			budget -= len(v.AsString())
		case t.IsListType() || t.IsSetType() || t.IsMapType() || t.IsTupleType() || t.IsObjectType():
			budget -= v.LengthInt()
			if budget < 0 {
				return true
			}
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if walk(e) {
					return true
				}
			}
		}
		return budget < 0
	}
	return walk(v)
}
