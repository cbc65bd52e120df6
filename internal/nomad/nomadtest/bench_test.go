package nomadtest_test

import (
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/hashicorp/nomad/api"
)

// BenchmarkPlainRegister1000 is the baseline for `caravan apply` of 1,000
// runs: api.Jobs().Register in a loop against the fake, with a GPU pool of
// 16 eight-GPU nodes so that some runs are placed and the rest queue.
func BenchmarkPlainRegister1000(b *testing.B) {
	jobs := nomadtest.BatchJobs(1000, "gpu", 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := nomadtest.New(b)
		for n := 0; n < 16; n++ {
			srv.AddNode(nomadtest.NodeSpec{Pool: "gpu", GPUs: 8})
		}
		c := srv.APIClient(b)
		b.StartTimer()
		if err := nomadtest.RegisterAll(c, jobs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		srv.Close()
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func TestRegisterAllPlacesAndQueues(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Pool: "gpu", GPUs: 8})
	if err := nomadtest.RegisterAll(srv.APIClient(t), nomadtest.BatchJobs(10, "gpu", 1)); err != nil {
		t.Fatal(err)
	}
	placed := 0
	for _, id := range srv.JobIDs("default") {
		placed += len(srv.Allocs("default", id))
	}
	if placed != 8 {
		t.Fatalf("placed %d, want 8 (one node of 8 GPUs)", placed)
	}
}

// BenchmarkListJobs10k measures GET /v1/jobs?meta=true with 10,000 jobs
// through the api client (what caravan plan reads).
func BenchmarkListJobs10k(b *testing.B) {
	srv := nomadtest.New(b)
	if err := srv.Seed(nomadtest.BatchJobs(10000, "default", 0)...); err != nil {
		b.Fatal(err)
	}
	c := srv.APIClient(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stubs, _, err := c.Jobs().ListOptions(&api.JobListOptions{Fields: &api.JobListFields{Meta: true}}, nil)
		if err != nil || len(stubs) != 10000 {
			b.Fatalf("%d %v", len(stubs), err)
		}
	}
}
