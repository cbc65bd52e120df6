package spec

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// distributionNames are the functions that only mean something as the value
// of a parameter inside a sweep's random block.
var distributionNames = []string{"uniform", "loguniform", "choice", "randint"}

// maxFormatWidth bounds the width and precision in format() verbs and the
// indent() count, so that a one-line expression cannot allocate gigabytes.
const maxFormatWidth = 4096

// Functions returns the functions available in expressions: go-cty's
// standard library (pure functions over values, nothing that reads files,
// the clock or the network), try/can, and placeholders for the sweep
// distributions that explain where they belong.
func Functions() map[string]function.Function {
	fns := map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          boundFormat(stdlib.FormatFunc),
		"formatlist":      boundFormat(stdlib.FormatListFunc),
		"indent":          boundIndent(stdlib.IndentFunc),
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"title":           stdlib.TitleFunc,
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
		"tostring":        stdlib.MakeToFunc(cty.String),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try":             tryfunc.TryFunc,
		"can":             tryfunc.CanFunc,
	}
	for _, name := range distributionNames {
		fns[name] = misplacedDistribution(name)
	}
	return fns
}

// misplacedDistribution is what uniform() and friends are outside a random
// block: a function that always fails with an explanation. Inside a random
// block the loader reads the call statically and never evaluates it.
func misplacedDistribution(name string) function.Function {
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
		Type:     function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.NilVal, fmt.Errorf("%s() describes a sweep distribution and is only valid as a parameter's whole value inside sweep { random { ... } }, e.g. dropout = %s(...)", name, name)
		},
	})
}

var formatWidthRe = regexp.MustCompile(`%[-+# 0]*(\d*)(?:\.(\d+))?`)

// boundFormat refuses format strings whose width or precision exceeds
// maxFormatWidth before delegating.
func boundFormat(f function.Function) function.Function {
	return wrapImpl(f, func(args []cty.Value) error {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || !args[0].Type().Equals(cty.String) {
			return nil
		}
		for _, m := range formatWidthRe.FindAllStringSubmatch(args[0].AsString(), -1) {
			for _, g := range m[1:] {
				if n, err := strconv.Atoi(g); g != "" && (err != nil || n > maxFormatWidth) {
					return fmt.Errorf("width or precision %s in the format string is larger than %d", g, maxFormatWidth)
				}
			}
		}
		return nil
	})
}

// boundIndent refuses indent counts above maxFormatWidth.
func boundIndent(f function.Function) function.Function {
	return wrapImpl(f, func(args []cty.Value) error {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || !args[0].Type().Equals(cty.Number) {
			return nil
		}
		if args[0].AsBigFloat().Cmp(bigFloat(maxFormatWidth)) > 0 {
			return fmt.Errorf("indent count is larger than %d", maxFormatWidth)
		}
		return nil
	})
}

func wrapImpl(f function.Function, check func([]cty.Value) error) function.Function {
	spec := &function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := check(args); err != nil {
				return cty.NilVal, err
			}
			return f.Call(args)
		},
	}
	return function.New(spec)
}
