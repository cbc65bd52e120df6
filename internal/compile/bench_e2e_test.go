package compile

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/sweepdir"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/cputime"
	"github.com/hashicorp/nomad/api"
)

func loadAndCompile(tb testing.TB, dir string, n int) []*api.Job {
	cfg, diags := spec.Load(context.Background(), dir, spec.LoadOptions{MaxRuns: n})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	if len(cfg.Runs) != n {
		tb.Fatalf("%d runs, want %d", len(cfg.Runs), n)
	}
	opts := Options{ConfigDir: dir, Pools: cfg.Pools}
	jobs := make([]*api.Job, len(cfg.Runs))
	for i, r := range cfg.Runs {
		j, err := Job(r, opts)
		if err != nil {
			tb.Fatal(err)
		}
		jobs[i] = j
	}
	return jobs
}

// BenchmarkLoadCompile is caravan validate's work end to end: parse,
// validate and expand a directory, then compile every run. The issue's
// target: 10k runs in under 1 s and 200 MB, growing linearly to 100k.
// live-MB is the heap still in use with all jobs alive after a GC.
func BenchmarkLoadCompile(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		dir := sweepdir.Write(b, n)
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var jobs []*api.Job
			cpu0 := cputime.Process()
			for b.Loop() {
				jobs = loadAndCompile(b, dir, n)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
			b.ReportMetric(float64(cputime.Process()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
			runtime.KeepAlive(jobs)
		})
	}
}

func TestLoadCompileSweepDir(t *testing.T) {
	jobs := loadAndCompile(t, sweepdir.Write(t, 1000), 1000)
	ids := map[string]bool{}
	for _, j := range jobs {
		ids[*j.ID] = true
	}
	if len(ids) != 1000 {
		t.Errorf("%d distinct IDs for 1000 runs", len(ids))
	}
}
