package nomad_test

import (
	"context"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
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
