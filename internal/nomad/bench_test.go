package nomad_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

// BenchmarkClientCreateJob1000 is nomadtest's BenchmarkPlainRegister1000
// through *nomad.Client.CreateJob (enforce-index registration, per-call
// timeout, error translation): the Client's own overhead over the api.
func BenchmarkClientCreateJob1000(b *testing.B) {
	jobs := nomadtest.BatchJobs(1000, "gpu", 1)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := nomadtest.New(b)
		for n := 0; n < 16; n++ {
			srv.AddNode(nomadtest.NodeSpec{Pool: "gpu", GPUs: 8})
		}
		c, err := nomad.New(nomad.Config{Address: srv.URL(), Getenv: func(string) string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, j := range jobs {
			if _, err := c.CreateJob(ctx, j); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		srv.Close()
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkCreateRecord1000 writes 1,000 run records of a typical size
// (a compiled job of ~1.3 KB and a resolved spec, ~2 KB of JSON in all)
// through CreateRecord: the per-run Nomad write that apply adds to a plain
// register loop.
func BenchmarkCreateRecord1000(b *testing.B) {
	jobs := nomadtest.BatchJobs(1000, "gpu", 1)
	recs := make([]*record.Run, len(jobs))
	for i, j := range jobs {
		job, err := json.Marshal(j)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = &record.Run{RunID: *j.ID, Experiment: "bench", Pool: "gpu", NodePool: "gpu", GPUs: 1,
			Params: map[string]any{"lr": 0.001, "seed": float64(i)}, SpecHash: strings.Repeat("ab", 32),
			Spec: json.RawMessage(`{"caravan_spec":1,"experiment":"bench","pool":"gpu","driver":"raw_exec","command":"/bin/true","args":["--lr","0.001"],"resources":{"gpus":1,"cpu_mhz":100,"memory_bytes":67108864}}`),
			Job:  job, Config: record.ConfigProvenance{Dir: "/exp", File: "bench.hcl", Line: 1}, SubmittedAt: time.Now().UTC()}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		srv := nomadtest.New(b)
		c, err := nomad.New(nomad.Config{Address: srv.URL(), Getenv: func(string) string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, r := range recs {
			if err := c.CreateRecord(ctx, "", r); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "records/s")
}
