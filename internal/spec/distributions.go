package spec

import (
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// drawDistribution reads one random-block parameter, name = dist(args...),
// and draws its samples from the parameter's own stream.
func (l *loader) drawDistribution(a *hcl.Attribute, seed int64, samples int) (sweepDim, bool) {
	call, diags := hcl.ExprCall(a.Expr)
	usage := "uniform(low, high), loguniform(low, high), randint(low, high) or choice(value, ...)"
	if diags.HasErrors() {
		l.add(diagErr(a.Expr.Range(), "Invalid distribution",
			"The value of %s in a random block must be a distribution: %s.", a.Name, usage))
		return sweepDim{}, false
	}
	var args []cty.Value
	for _, ae := range call.Arguments {
		v, ok := l.eval(ae, "a distribution argument")
		if !ok {
			return sweepDim{}, false
		}
		args = append(args, v)
	}
	rng := a.Expr.Range()
	r := newParamStream(seed, a.Name)
	dim := sweepDim{name: a.Name, vals: make([]pval, samples)}
	var ok bool
	switch call.Name {
	case "uniform", "loguniform":
		ok = l.drawContinuous(call, args, rng, r, dim.vals)
	case "randint":
		ok = l.drawRandint(call, args, rng, r, dim.vals)
	case "choice":
		ok = l.drawChoice(args, rng, r, dim.vals)
	default:
		l.add(diagErr(call.NameRange, "Unknown distribution",
			"%q is not a distribution; use %s.%s", call.Name, usage, suggest(call.Name, distributionNames)))
	}
	if !ok {
		return sweepDim{}, false
	}
	return dim, true
}

// drawContinuous fills vals from uniform(low, high) or loguniform(low,
// high), each value rounded by roundSig.
func (l *loader) drawContinuous(call *hcl.StaticCall, args []cty.Value, rng hcl.Range, r *splitmix64, vals []pval) bool {
	lo, hi, ok := l.twoNumbers(call, args, rng)
	if !ok {
		return false
	}
	if !(lo < hi) {
		l.add(diagErr(rng, "Invalid distribution", "%s(low, high) needs low < high; got %g and %g.", call.Name, lo, hi))
		return false
	}
	if call.Name == "loguniform" && lo <= 0 {
		l.add(diagErr(rng, "Invalid distribution", "loguniform(low, high) needs low > 0 (it draws uniformly in log space); got %g.", lo))
		return false
	}
	for i := range vals {
		u := r.float64()
		var x float64
		if call.Name == "uniform" {
			// The explicit conversion forbids a fused multiply-add, so
			// every platform computes the same value.
			x = float64(u*(hi-lo)) + lo
		} else {
			x = math.Exp(float64(u*(math.Log(hi)-math.Log(lo))) + math.Log(lo))
		}
		vals[i] = numberPval(roundSig(x))
	}
	return true
}

// drawRandint fills vals from randint(low, high), both ends included.
// Bounds beyond 2^53 are refused: a float64 no longer holds every whole
// number there.
func (l *loader) drawRandint(call *hcl.StaticCall, args []cty.Value, rng hcl.Range, r *splitmix64, vals []pval) bool {
	lo, hi, ok := l.twoNumbers(call, args, rng)
	if !ok {
		return false
	}
	if lo != math.Trunc(lo) || hi != math.Trunc(hi) || lo > hi || math.Abs(lo) > 1<<53 || math.Abs(hi) > 1<<53 {
		l.add(diagErr(rng, "Invalid distribution", "randint(low, high) needs whole numbers with low <= high (both included); got %g and %g.", lo, hi))
		return false
	}
	span := uint64(int64(hi)-int64(lo)) + 1
	for i := range vals {
		x := int64(lo) + int64(r.intn(span))
		vals[i] = pval{v: cty.NumberIntVal(x), s: fmt.Sprint(x)}
	}
	return true
}

// drawChoice fills vals from choice(value, ...); a single list argument,
// choice(["a", "b"]), is taken as the list of options.
func (l *loader) drawChoice(args []cty.Value, rng hcl.Range, r *splitmix64, vals []pval) bool {
	if len(args) == 1 && (args[0].Type().IsTupleType() || args[0].Type().IsListType()) && !args[0].IsNull() {
		args = args[0].AsValueSlice()
	}
	if len(args) == 0 {
		l.add(diagErr(rng, "Invalid distribution", "choice(...) needs at least one value, e.g. choice(\"adam\", \"sgd\")."))
		return false
	}
	opts := make([]pval, len(args))
	for i, v := range args {
		p, ok := l.toPval(v, rng, fmt.Sprintf("choice argument %d", i+1))
		if !ok {
			return false
		}
		opts[i] = p
	}
	for i := range vals {
		vals[i] = opts[r.intn(uint64(len(opts)))]
	}
	return true
}

func numberPval(s string) pval {
	v, err := cty.ParseNumberVal(s)
	if err != nil {
		return pval{v: cty.StringVal(s), s: s}
	}
	return pval{v: v, s: s}
}

func (l *loader) twoNumbers(call *hcl.StaticCall, args []cty.Value, rng hcl.Range) (float64, float64, bool) {
	if len(args) != 2 {
		l.add(diagErr(call.ArgsRange, "Invalid distribution", "%s takes exactly two numbers, low and high; got %d arguments.", call.Name, len(args)))
		return 0, 0, false
	}
	var out [2]float64
	for i, v := range args {
		if v.IsNull() || v.Type() != cty.Number {
			l.add(diagErr(rng, "Invalid distribution", "%s needs numbers; argument %d is %s.", call.Name, i+1, typeName(v)))
			return 0, 0, false
		}
		f, _ := v.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			l.add(diagErr(rng, "Invalid distribution", "argument %d of %s is out of range.", i+1, call.Name))
			return 0, 0, false
		}
		out[i] = f
	}
	return out[0], out[1], true
}
