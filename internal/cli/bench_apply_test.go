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

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/hashicorp/nomad/api"
)

// Benchmarks of the GitOps commands against the fake Nomad. Run them with
//
//	go test -run '^$' -bench 'Apply1000|PlanCommand10k' -benchtime 5x -count 3 ./internal/cli

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
	hcl := fmt.Sprintf(`experiment "sweep" {
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
// record) with a plain loop of api.Jobs().Register of the same 1,000
// compiled jobs, each iteration against a fresh fake Nomad.
func BenchmarkApply1000(b *testing.B) {
	dir := sweepDir(b, 10, 100, 1)
	jobs := renderedJobs(b, dir)
	if len(jobs) != 1000 {
		b.Fatalf("rendered %d jobs, want 1000", len(jobs))
	}
	measure := func(b *testing.B, latency time.Duration, run func(srv *nomadtest.Server)) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			srv := nomadtest.New(b)
			srv.AddNodePool("gpu", "")
			srv.Delay("/v1/", latency)
			b.StartTimer()
			start := time.Now()
			run(srv)
			total += time.Since(start)
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(1000*b.N)/total.Seconds(), "runs/s")
	}
	// latency 0: client and fake share this machine's CPUs, so the figure
	// is CPU cost; 1ms models the commit latency of a real Nomad write
	// (Raft apply), which is what parallel submission hides.
	for _, latency := range []time.Duration{0, time.Millisecond} {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("latency=%s/caravan-apply/parallelism=%d", latency, par), func(b *testing.B) {
				measure(b, latency, func(srv *nomadtest.Server) {
					r := execBench(b, []string{"NOMAD_ADDR=" + srv.URL()}, "apply", dir, "-parallelism", fmt.Sprint(par))
					if !strings.Contains(r.stdout, "1000 registered") {
						b.Fatalf("apply: %s", tail(r.stdout))
					}
				})
			})
		}
		// The same plan applied without writing records isolates what
		// only-if-absent registration and the dispatcher cost over the
		// plain loop; the rest of apply's time is the records.
		b.Run(fmt.Sprintf("latency=%s/gitops-apply-without-records/parallelism=1", latency), func(b *testing.B) {
			measure(b, latency, func(srv *nomadtest.Server) {
				cl, err := nomad.New(nomad.Config{Address: srv.URL()})
				if err != nil {
					b.Fatal(err)
				}
				p := gitops.Plan(desiredFor(jobs), nil, gitops.Options{})
				res := gitops.Apply(context.Background(), noRecords{cl}, p, gitops.ApplyOptions{Parallelism: 1})
				if res.Err() != nil || len(res.Registered) != 1000 {
					b.Fatalf("apply: %v", res.Err())
				}
			})
		})
		b.Run(fmt.Sprintf("latency=%s/caravan-plan", latency), func(b *testing.B) {
			measure(b, latency, func(srv *nomadtest.Server) {
				execBench(b, []string{"NOMAD_ADDR=" + srv.URL()}, "plan", dir)
			})
		})
		b.Run(fmt.Sprintf("latency=%s/register-loop", latency), func(b *testing.B) {
			measure(b, latency, func(srv *nomadtest.Server) {
				if err := nomadtest.RegisterAll(srv.APIClient(b), jobs); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
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

// noRecords is a gitops.Cluster that registers jobs but drops records.
type noRecords struct{ *nomad.Client }

func (noRecords) CreateRecord(context.Context, string, *nomad.Record) error { return nil }

func desiredFor(jobs []*api.Job) []gitops.DesiredRun {
	out := make([]gitops.DesiredRun, len(jobs))
	for i, j := range jobs {
		out[i] = gitops.DesiredRun{ID: *j.ID, Experiment: j.Meta[compile.MetaExperiment], Job: j, Record: &nomad.Record{RunID: *j.ID}}
	}
	return out
}
