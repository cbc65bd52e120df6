package sim

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// benchTrace is ITP cluster04 (15,801 jobs) when the shared traces are
// there, else a synthetic trace of the same size and shape.
func benchTrace(b *testing.B) []Job {
	if f, err := os.Open("../../../shared/traces/itp/cluster04.csv"); err == nil {
		defer f.Close()
		jobs, err := ReadTrace(f)
		if err != nil {
			b.Fatal(err)
		}
		return jobs
	}
	return syntheticTrace(15000, 7)
}

// syntheticTrace draws bursty arrivals with heavy-tailed durations and
// the ITP mix of GPU counts.
func syntheticTrace(n int, seed uint64) []Job {
	r := rand.New(rand.NewPCG(seed, seed+1))
	sizes := []int{1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 8, 16, 32}
	jobs := make([]Job, n)
	t := time.Duration(0)
	for i := range jobs {
		if r.IntN(10) == 0 {
			t += time.Duration(r.ExpFloat64() * float64(2*time.Hour))
		} else {
			t += time.Duration(r.ExpFloat64() * float64(2*time.Minute))
		}
		d := 600*time.Second + time.Duration(r.ExpFloat64()*r.ExpFloat64()*float64(3*time.Hour))
		jobs[i] = Job{ID: itoa(i), Submit: t.Round(time.Second), Duration: d.Round(time.Second), GPUs: sizes[r.IntN(len(sizes))]}
	}
	return jobs
}

func benchPool() *spec.Pool {
	return &spec.Pool{Name: "gpu", GPUsPerNode: 8, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute}
}

// BenchmarkSimulate replays a 15k-job trace through caravan's policy; the
// target is under 2 s per replay.
func BenchmarkSimulate(b *testing.B) {
	jobs := benchTrace(b)
	cfg := Config{Pool: benchPool(), Boot: 3 * time.Minute}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(cfg, jobs, "caravan", Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(jobs)), "jobs")
}

// BenchmarkCompare runs all four policies over the same trace.
func BenchmarkCompare(b *testing.B) {
	jobs := benchTrace(b)
	cfg := Config{Pool: benchPool(), Boot: 3 * time.Minute}
	for b.Loop() {
		if _, err := Compare(cfg, jobs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstantMachines is the extra replay behind the report's
// placement floor: machines that boot and leave at once decide more often.
func BenchmarkInstantMachines(b *testing.B) {
	jobs := benchTrace(b)
	for b.Loop() {
		if _, err := instantMachines(benchPool(), jobs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReport is what `caravan simulate` computes: every policy plus
// the placement floor, replayed side by side.
func BenchmarkReport(b *testing.B) {
	jobs := benchTrace(b)
	pools := map[string]*spec.Pool{"gpu": benchPool()}
	for b.Loop() {
		if _, err := ComparePools(pools, "gpu", jobs, 3*time.Minute, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
