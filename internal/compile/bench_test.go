package compile

import (
	"fmt"
	"testing"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/cputime"
	"github.com/zclconf/go-cty/cty"
)

// sweepRuns builds n runs of one experiment that differ in their params, as
// a grid sweep yields them.
func sweepRuns(n int) []spec.Run {
	base := fullRun()
	runs := make([]spec.Run, n)
	for i := range runs {
		r := base
		r.Index = i
		r.Params = []spec.Param{
			{Name: "batch", Value: cty.NumberIntVal(int64(128 << (i % 3)))},
			{Name: "lr", Value: cty.NumberFloatVal(0.1 / float64(i+1))},
			{Name: "seed", Value: cty.NumberIntVal(int64(i))},
		}
		r.Args = []string{"train.py", "--seed", fmt.Sprint(i)}
		runs[i] = r
	}
	return runs
}

// BenchmarkCompile compiles 1k, 10k and 100k runs per iteration; ns/op
// divided by the run count should stay flat (linear growth).
func BenchmarkCompile(b *testing.B) {
	opts := testOptions()
	for _, n := range []int{1_000, 10_000, 100_000} {
		runs := sweepRuns(n)
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				for _, r := range runs {
					if _, err := Job(r, opts); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
			b.ReportMetric(float64(cputime.Process()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkRenderJSON is the cost of caravan render per job.
func BenchmarkRenderJSON(b *testing.B) {
	job, err := Job(fullRun(), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderJSON(job); err != nil {
			b.Fatal(err)
		}
	}
}
