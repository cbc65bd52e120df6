package spec

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var sweepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "grid"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "random"}},
}

// paramNameRe keeps parameter names usable as CARAVAN_PARAM_<NAME>
// environment variables and Nomad meta keys.
var paramNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)

// pval is one parameter value with its canonical string form, rendered once
// and shared by every run that uses it.
type pval struct {
	v cty.Value
	s string
}

type sweepDim struct {
	name string
	vals []pval
}

// sweepSpec is an experiment's parameter space.
type sweepSpec struct {
	names   []string        // every parameter, sorted
	base    map[string]pval // params
	grid    []sweepDim      // sorted by name; the last varies fastest
	random  []sweepDim      // sorted by name; vals are the pre-drawn samples
	samples int             // 1 without a random block
	size    int             // runs; valid only when ok
	ok      bool
	scope   *refScope
}

// decodeSweep reads params and the sweep block, checks the sweep's size
// before anything is expanded, and draws the random samples.
func (l *loader) decodeSweep(e *Experiment, paramsAttr *hcl.Attribute, blocks []*hcl.Block, declRange hcl.Range) *sweepSpec {
	sw := &sweepSpec{base: map[string]pval{}, samples: 1}
	sw.scope = &refScope{params: map[string]bool{}, complete: true}
	errsBefore := countErrors(l.diags)
	l.decodeParams(sw, paramsAttr)
	sb := sweepBlock{gridRng: declRange}
	for i, b := range blocks {
		if i > 0 {
			l.add(diagErr(b.DefRange, "Duplicate sweep block", "An experiment has at most one sweep block; merge them."))
			continue
		}
		l.decodeSweepBlock(sw, &sb, b)
	}
	l.nameParams(e, sw, &sb)
	size, ok := l.sweepSize(e, sw, &sb, errsBefore)
	if !ok {
		return sw
	}
	for _, a := range sb.dists {
		dim, ok := l.drawDistribution(a, sb.seed, sw.samples)
		if ok {
			sw.random = append(sw.random, dim)
		}
	}
	if countErrors(l.diags) != errsBefore {
		return sw
	}
	sw.size = int(size)
	e.RunCount = sw.size
	sw.ok = true
	return sw
}

// sweepBlock is what the sweep block declares beyond the grid, kept until
// the sweep's size is known: the random draws wait for it, since drawing
// the samples of a sweep too large to run would be wasted work.
type sweepBlock struct {
	random  *hcl.Block
	samples *hcl.Attribute
	seed    int64
	dists   []*hcl.Attribute // the random block's distributions, in source order
	gridRng hcl.Range        // where size diagnostics point
}

// decodeParams reads the params attribute into sw.base. A params that
// cannot be evaluated leaves the scope incomplete, so that references to
// parameters it might have declared are not reported as unknown.
func (l *loader) decodeParams(sw *sweepSpec, paramsAttr *hcl.Attribute) {
	if paramsAttr == nil {
		return
	}
	v, ok := l.eval(paramsAttr.Expr, "params")
	if !ok {
		sw.scope.complete = false
		return
	}
	l.eachParam(v, paramsAttr.Expr.Range(), "params", func(name string, pv cty.Value, rng hcl.Range) {
		if p, ok := l.toPval(pv, rng, "params."+name); ok {
			sw.base[name] = p
		}
	})
}

// decodeSweepBlock reads one sweep block: its grid into sw.grid and its
// random block into sb.
func (l *loader) decodeSweepBlock(sw *sweepSpec, sb *sweepBlock, b *hcl.Block) {
	content, diags := b.Body.Content(sweepSchema)
	l.add(diags...)
	sb.gridRng = b.DefRange
	if a := content.Attributes["grid"]; a != nil {
		sb.gridRng = a.Expr.Range()
		if v, ok := l.eval(a.Expr, "grid"); ok {
			l.eachParam(v, a.Expr.Range(), "grid", func(name string, lv cty.Value, rng hcl.Range) {
				if dim, ok := l.gridDim(name, lv, rng); ok {
					sw.grid = append(sw.grid, dim)
				}
			})
		} else {
			sw.scope.complete = false
		}
	}
	for j, rb := range content.Blocks {
		if j > 0 {
			l.add(diagErr(rb.DefRange, "Duplicate random block", "A sweep has at most one random block; merge them."))
			continue
		}
		l.decodeRandomBlock(sw, sb, rb)
	}
}

// decodeRandomBlock reads samples, seed and the distributions of a random
// block. The distributions are only collected here: they are drawn once
// the sweep's size is known to be within the limit.
func (l *loader) decodeRandomBlock(sw *sweepSpec, sb *sweepBlock, rb *hcl.Block) {
	sb.random = rb
	attrs, diags := rb.Body.JustAttributes()
	l.add(diags...)
	for _, a := range attrsInOrder(attrs) {
		switch a.Name {
		case "samples":
			sb.samples = a
		case "seed":
			if v, ok := l.attrInt(a); ok {
				sb.seed = int64(v)
			}
		default:
			sb.dists = append(sb.dists, a)
			sw.scope.params[a.Name] = true
			if !paramNameRe.MatchString(a.Name) {
				l.add(diagErr(a.NameRange, "Invalid parameter name",
					"%q cannot be a parameter name: use letters, digits and '_', starting with a letter (it becomes CARAVAN_PARAM_%s).", a.Name, strings.ToUpper(a.Name)))
			}
		}
	}
	if sb.samples == nil {
		l.add(diagErr(rb.DefRange, "Missing samples", "A random block needs samples = N, the number of random points to draw (e.g. samples = 16)."))
	}
	if len(sb.dists) == 0 {
		l.add(diagErr(rb.DefRange, "Random block draws nothing",
			"This random block has no parameters, so its samples would be identical runs. Add one, e.g. dropout = uniform(0, 0.5), or remove the block."))
	}
}

// nameParams gathers every parameter name (params, grid and random) into
// the scope and onto the experiment, and refuses a parameter that is both
// in the grid and random.
func (l *loader) nameParams(e *Experiment, sw *sweepSpec, sb *sweepBlock) {
	for n := range sw.base {
		sw.scope.params[n] = true
	}
	for _, d := range sw.grid {
		if sw.scope.params[d.name] && isRandom(sb.dists, d.name) {
			l.add(diagErr(sb.gridRng, "Parameter swept twice",
				"%q is both in sweep.grid and in sweep.random; a parameter can be swept only one way. Remove one of them.", d.name))
		}
		sw.scope.params[d.name] = true
	}
	sort.Slice(sw.grid, func(i, j int) bool { return sw.grid[i].name < sw.grid[j].name })
	sw.names = keysOf(sw.scope.params)
	e.ParamNames = sw.names
}

// sweepSize counts the runs of the sweep before expansion and sets
// sw.samples. It reports false, after adding a diagnostic, when the sweep
// yields no runs or more than the limit, or when errors were already found
// since errsBefore. The product is checked against the limit factor by
// factor, for overflow, and the exact figure for the message is computed
// with big integers.
func (l *loader) sweepSize(e *Experiment, sw *sweepSpec, sb *sweepBlock, errsBefore int) (uint64, bool) {
	exact := big.NewInt(1)
	size, over := uint64(1), false
	max := uint64(l.maxRuns)
	zeroAt := hcl.Range{}
	for _, d := range sw.grid {
		n := uint64(len(d.vals))
		exact.Mul(exact, new(big.Int).SetUint64(n))
		if n == 0 {
			zeroAt = sb.gridRng
		} else if !over && size > max/n {
			over = true
		} else if !over {
			size *= n
		}
	}
	if sb.random != nil && sb.samples != nil {
		n, ok := l.samplesCount(sb.samples)
		if !ok {
			return 0, false
		}
		exact.Mul(exact, n)
		switch {
		case n.Sign() == 0:
			zeroAt = sb.samples.Expr.Range()
		case !n.IsUint64() || n.Uint64() > max || size > max/n.Uint64():
			over = true
		default:
			size *= n.Uint64()
			sw.samples = int(n.Uint64())
		}
	}
	if countErrors(l.diags) != errsBefore {
		return 0, false
	}
	switch {
	case zeroAt.Filename != "":
		l.add(diagErr(zeroAt, "Sweep yields no runs",
			"The sweep of %q has an empty grid list or samples = 0, so the product is zero runs. Give every grid entry at least one value and samples at least 1.", e.Name))
		return 0, false
	case over || size > max:
		l.add(diagErr(sb.gridRng, "Sweep too large",
			"The sweep of %q yields %s runs (the product of the grid list lengths and samples), more than the limit of %d. Shrink the grid or samples, split the experiment, or raise the limit with -max-runs.", e.Name, exact.String(), l.maxRuns))
		return 0, false
	}
	return size, true
}

func isRandom(dists []*hcl.Attribute, name string) bool {
	for _, a := range dists {
		if a.Name == name {
			return true
		}
	}
	return false
}

// eachParam calls fn for every entry of an object or map value, in name
// order, after checking the names.
func (l *loader) eachParam(v cty.Value, rng hcl.Range, what string, fn func(string, cty.Value, hcl.Range)) {
	t := v.Type()
	if v.IsNull() || !(t.IsObjectType() || t.IsMapType()) {
		l.wrongType(rng, what, "an object", v)
		return
	}
	m := v.AsValueMap()
	for _, name := range keysOf(m) {
		if !paramNameRe.MatchString(name) {
			l.add(diagErr(rng, "Invalid parameter name",
				"%q in %s cannot be a parameter name: use up to 64 letters, digits and '_', starting with a letter (it becomes CARAVAN_PARAM_%s).", name, what, strings.ToUpper(name)))
			continue
		}
		fn(name, m[name], rng)
	}
}

// toPval checks that v can be a parameter value: a known, non-null string,
// number or bool.
func (l *loader) toPval(v cty.Value, rng hcl.Range, what string) (pval, bool) {
	s, err := renderValue(v)
	if err != nil {
		l.add(diagErr(rng, "Invalid parameter value", "%s %s; a parameter is a single string, number or bool.", what, err))
		return pval{}, false
	}
	return pval{v: v, s: s}, true
}

func (l *loader) gridDim(name string, lv cty.Value, rng hcl.Range) (sweepDim, bool) {
	t := lv.Type()
	if lv.IsNull() || !(t.IsTupleType() || t.IsListType() || t.IsSetType()) {
		l.add(diagErr(rng, "Invalid grid entry",
			"grid.%s must be a list of values, e.g. %s = [0.1, 0.01]; this is %s.", name, name, typeName(lv)))
		return sweepDim{}, false
	}
	dim := sweepDim{name: name, vals: make([]pval, 0, lv.LengthInt())}
	seen := make(map[string]int, lv.LengthInt())
	for it := lv.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		p, ok := l.toPval(ev, rng, fmt.Sprintf("grid.%s[%d]", name, len(dim.vals)))
		if !ok {
			return sweepDim{}, false
		}
		// Equal values would make identical runs, i.e. one Nomad job twice.
		key := p.v.Type().FriendlyName() + ":" + p.s
		if first, dup := seen[key]; dup {
			l.add(diagErr(rng, "Duplicate grid value",
				"grid.%s lists %s twice (positions %d and %d), which would declare the same run twice. Remove the repeat.", name, p.s, first, len(dim.vals)))
			return sweepDim{}, false
		}
		seen[key] = len(dim.vals)
		dim.vals = append(dim.vals, p)
	}
	return dim, true
}

// samplesCount reads samples as an exact non-negative integer of any size,
// so that samples = 1e12 is refused as too large rather than mis-read.
func (l *loader) samplesCount(a *hcl.Attribute) (*big.Int, bool) {
	v, ok := l.eval(a.Expr, "samples")
	if !ok {
		return nil, false
	}
	if v.IsNull() || v.Type() != cty.Number {
		l.wrongType(a.Expr.Range(), "samples", "a whole number", v)
		return nil, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 {
		l.add(diagErr(a.Expr.Range(), "Invalid samples", "samples must be a whole number of 1 or more, not %s.", bf.Text('g', 10)))
		return nil, false
	}
	n, _ := bf.Int(nil)
	return n, true
}

// renderValue is the canonical string of a parameter value: strings as
// they are, numbers in plain decimal without exponent or trailing zeros
// (0.001 → "0.001", 256 → "256", 1e-6 → "0.000001"), bools as true/false.
func renderValue(v cty.Value) (string, error) {
	if !v.IsKnown() {
		return "", fmt.Errorf("is not known")
	}
	if v.IsNull() {
		return "", fmt.Errorf("is null")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return "", fmt.Errorf("is infinite")
		}
		// Plain decimal like Terraform, except for absurd magnitudes whose
		// decimal expansion would be megabytes long.
		if exp := bf.MantExp(nil); exp > 256 || exp < -256 {
			return bf.Text('g', -1), nil
		}
		return bf.Text('f', -1), nil
	}
	return "", fmt.Errorf("is %s", typeName(v))
}
