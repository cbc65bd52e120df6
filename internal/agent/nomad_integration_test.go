package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestAgentAgainstFakeNomad wires the agent to the real *nomad.Client over
// HTTP to the fake Nomad server, on a node without NVML: the run is found
// in the node's allocation list, its memory comes from the client stats
// endpoint, its GPU from the device plugin, and its usage summary lands in
// Nomad Variables where `caravan report` reads it.
func TestAgentAgainstFakeNomad(t *testing.T) {
	srv := nomadtest.New(t)
	node := srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	job := nomadtest.BatchJobs(1, "gpu", 1)[0]
	job.Meta[record.MetaRunID] = "resnet50-1a2b3c4d"
	job.Meta[record.MetaExperiment] = "resnet50"
	if err := nomadtest.RegisterAll(srv.APIClient(t), []*api.Job{job}); err != nil {
		t.Fatal(err)
	}
	srv.RunAll()
	allocs := srv.Allocs("default", *job.ID)
	if len(allocs) != 1 || allocs[0].NodeID != node {
		t.Fatalf("allocations: %+v", allocs)
	}
	alloc := allocs[0].ID
	srv.SetAllocStats(alloc, mkUsage(3<<30, 1<<29, 180))

	c, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Config{Node: "gpu-node-1", NodeID: node, Pool: "gpu", ProcRoot: "testdata/proc", GPUErr: gpu.ErrUnavailable, Nomad: c})
	text := scrape(t, NewCollector(a))
	for _, want := range []string{
		`caravan_run_memory_rss_bytes{alloc="` + alloc + `",experiment="resnet50",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"} 3.221225472e+09`,
		`caravan_run_cpu_cores{alloc="` + alloc + `",experiment="resnet50",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"} 1.8`,
		`caravan_run_gpus{alloc="` + alloc + `",experiment="resnet50",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"} 1`,
		`caravan_gpu_info{gpu="0",model="H100-SIM",node="gpu-node-1",pool="gpu",source="nomad",uuid="gpu0"} 1`,
		`caravan_agent_source_success{node="gpu-node-1",pool="gpu",source="nomad"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}

	s := NewSampler(a, c, 5*time.Second, time.Minute)
	ctx := context.Background()
	s.Sample(ctx)
	s.Sample(ctx)
	srv.CompleteAlloc(alloc)
	s.Sample(ctx)
	u, err := c.Usage(ctx, record.Ref{Namespace: "default", RunID: "resnet50-1a2b3c4d"})
	if err != nil {
		t.Fatalf("reading the usage the agent wrote: %v", err)
	}
	if !u.Final || u.Samples != 2 || u.AllocID != alloc || u.RSSPeak != 3<<30 || len(u.Timeline.RSS) != 2 || u.GPUs != 1 {
		t.Errorf("usage: %+v", u)
	}
}
