package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/testutil/cputime"
	"github.com/hashicorp/nomad/api"
)

// Benchmarks of the GitOps commands against the fake Nomad. Run them with
//
//	go test -run '^$' -bench 'Apply1000|PlanCommand10k' -benchtime 3x -count 5 ./internal/cli

// sweepDir writes one experiment whose grid is lrs × seeds (seeds counted
// from seed0), so that two directories can share some runs.
func sweepDir(tb testing.TB, lrs, seeds, seed0 int) string {
	tb.Helper()
	lr := make([]string, lrs)
	for i := range lr {
		lr[i] = fmt.Sprint(i + 1)
	}
	sd := make([]string, seeds)
	for i := range sd {
		sd[i] = fmt.Sprint(seed0 + i)
	}
	hcl := fmt.Sprintf(`caravan {
  project = "bench"
}

experiment "sweep" {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/true"
  args    = ["--lr", param.lr, "--seed", param.seed]
  sweep {
    grid = {
      lr   = [%s]
      seed = [%s]
    }
  }
  resources {
    gpus   = 1
    cpu    = 100
    memory = "64MiB"
  }
}
`, strings.Join(lr, ", "), strings.Join(sd, ", "))
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sweep.hcl"), []byte(hcl), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// execBench is execCaravan for benchmarks: no stdin, logs discarded.
func execBench(tb testing.TB, environ []string, args ...string) cfgResult {
	tb.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: envLookup(environ),
		Environ: func() []string { return environ }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	code := Main(context.Background(), args, env)
	r := cfgResult{out.String(), errb.String(), code}
	if code != ExitOK && code != ExitChanges {
		tb.Fatalf("caravan %v: exit %d\n%s\n%s", args, code, tail(r.stdout), tail(r.stderr))
	}
	return r
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// renderedJobs compiles dir exactly as apply does (caravan render).
func renderedJobs(tb testing.TB, dir string) []*api.Job {
	tb.Helper()
	r := execBench(tb, nil, "render", dir)
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var jobs []*api.Job
	for {
		var doc struct{ Job *api.Job }
		if err := dec.Decode(&doc); err == io.EOF {
			return jobs
		} else if err != nil {
			tb.Fatal(err)
		}
		jobs = append(jobs, doc.Job)
	}
}

// BenchmarkApply1000 compares `caravan apply` of 1,000 new runs (load,
// compile, list Nomad, register each job only-if-absent, write each
// record) with plain loops of api.Jobs().Register of the same 1,000
// compiled jobs. Each iteration runs the baseline and apply back to back,
// each against its own fresh fake Nomad, in alternating order, so that a
// shared machine's changing load falls on both alike; the figures are
// summed over the iterations:
//
//	loop-runs/s, apply-runs/s  the two throughputs (wall time)
//	x-loop                     apply's time over the baseline's (target <= 1.2)
//	loop-cpu-ms, apply-cpu-ms  CPU time of the process (client and fake
//	                           together) per 1,000 runs: the figure a busy
//	                           machine inflates least
//
// The baseline is the plain loop, one Register after another;
// parallelism=16 also reports x-par-loop, against 16 goroutines sharing
// that loop (the same concurrency as apply, the same HTTP transport).
func BenchmarkApply1000(b *testing.B) {
	dir := sweepDir(b, 10, 100, 1)
	jobs := renderedJobs(b, dir)
	if len(jobs) != 1000 {
		b.Fatalf("rendered %d jobs, want 1000", len(jobs))
	}
	type side struct {
		name string
		run  func(b *testing.B, srv *nomadtest.Server)
	}
	// timed runs each side once on a fresh fake and returns its wall and
	// CPU time.
	timed := func(b *testing.B, latency time.Duration, s side) (wall, cpu time.Duration) {
		b.StopTimer()
		srv := nomadtest.New(b)
		srv.AddNodePool("gpu", "")
		srv.Delay("/v1/", latency)
		b.StartTimer()
		cpu0, start := cputime.Process(), time.Now()
		s.run(b, srv)
		wall, cpu = time.Since(start), cputime.Process()-cpu0
		b.StopTimer()
		srv.Close()
		b.StartTimer()
		return wall, cpu
	}
	compare := func(b *testing.B, latency time.Duration, sides []side) {
		wall := make([]time.Duration, len(sides))
		cpu := make([]time.Duration, len(sides))
		n := 0
		for b.Loop() {
			for k := range sides {
				i := k
				if n%2 == 1 {
					i = len(sides) - 1 - k
				}
				w, c := timed(b, latency, sides[i])
				wall[i] += w
				cpu[i] += c
			}
			n++
		}
		for i, s := range sides {
			b.ReportMetric(float64(1000*n)/wall[i].Seconds(), s.name+"-runs/s")
			b.ReportMetric(float64(cpu[i].Milliseconds())/float64(n), s.name+"-cpu-ms")
		}
		last := len(sides) - 1
		for i, s := range sides[:last] {
			b.ReportMetric(float64(wall[last])/float64(wall[i]), "x-"+s.name)
		}
	}
	loop := side{"loop", func(b *testing.B, srv *nomadtest.Server) {
		if err := nomadtest.RegisterAll(srv.APIClient(b), jobs); err != nil {
			b.Fatal(err)
		}
	}}
	parLoop := side{"par-loop", func(b *testing.B, srv *nomadtest.Server) {
		cl, err := nomad.New(nomad.Config{Address: srv.URL()})
		if err != nil {
			b.Fatal(err)
		}
		if err := registerParallel(cl.API(), jobs, 16); err != nil {
			b.Fatal(err)
		}
	}}
	apply := func(par int) side {
		return side{"apply", func(b *testing.B, srv *nomadtest.Server) {
			r := execBench(b, []string{"NOMAD_ADDR=" + srv.URL()}, "apply", dir, "-parallelism", fmt.Sprint(par))
			if !strings.Contains(r.stdout, "1000 registered") {
				b.Fatalf("apply: %s", tail(r.stdout))
			}
		}}
	}
	// latency 0: client and fake share this machine's CPUs, so the figure
	// is CPU cost; 1ms models the commit latency of a real Nomad write
	// (Raft apply), which is what parallel submission hides.
	for _, latency := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s/caravan-apply/parallelism=1", latency), func(b *testing.B) {
			compare(b, latency, []side{loop, apply(1)})
		})
		b.Run(fmt.Sprintf("latency=%s/caravan-apply/parallelism=16", latency), func(b *testing.B) {
			compare(b, latency, []side{loop, parLoop, apply(16)})
		})
		b.Run(fmt.Sprintf("latency=%s/caravan-plan", latency), func(b *testing.B) {
			compare(b, latency, []side{{"plan", func(b *testing.B, srv *nomadtest.Server) {
				execBench(b, []string{"NOMAD_ADDR=" + srv.URL()}, "plan", dir)
			}}})
		})
	}
}

// registerParallel is nomadtest.RegisterAll spread over par goroutines.
func registerParallel(c *api.Client, jobs []*api.Job, par int) error {
	next := make(chan *api.Job)
	errs := make(chan error, par)
	for range par {
		go func() {
			var first error
			for j := range next {
				if _, _, err := c.Jobs().Register(j, nil); err != nil && first == nil {
					first = fmt.Errorf("register %s: %w", *j.ID, err)
				}
			}
			errs <- first
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	var err error
	for range par {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

// BenchmarkPlanCommand10k is `caravan plan` of 10,000 declared runs with
// 10,000 caravan runs (jobs and records) in the fake Nomad, 5,000 of them
// the same: load, compile, list jobs and records, diff, print.
func BenchmarkPlanCommand10k(b *testing.B) {
	srv := nomadtest.New(b)
	srv.AddNodePool("gpu", "")
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	execBench(b, env, "apply", sweepDir(b, 100, 100, 1))
	dir := sweepDir(b, 100, 100, 51)
	for b.Loop() {
		r := execBench(b, env, "plan", dir)
		if !strings.Contains(r.stdout, "Plan: 5000 to create, 5000 unchanged, 5000 no longer declared") {
			b.Fatalf("plan: %s", tail(r.stdout))
		}
	}
}
