package nomad_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	"github.com/hashicorp/nomad/api"
)

func TestLogsPlainFramedAndFollow(t *testing.T) {
	srv := nomadtest.New(t)
	srv.HeartbeatInterval = 20 * time.Millisecond
	c := newClient(t, srv)
	ctx := context.Background()
	srv.AddNode(nomadtest.NodeSpec{Name: "n"})
	c.RegisterJob(ctx, gpuJob("logs", "default", 0), false, 0)
	id := srv.Allocs("default", "logs")[0].ID
	srv.StartAlloc(id)
	srv.WriteLog(id, "train", false, "epoch 1\n")
	srv.WriteLog(id, "train", true, "warning\n")
	for _, plain := range []bool{true, false} {
		var out bytes.Buffer
		if err := c.Logs(ctx, id, nomad.LogOptions{Task: "train", Plain: plain}, &out); err != nil || out.String() != "epoch 1\n" {
			t.Fatalf("plain=%v: %q %v", plain, out.String(), err)
		}
	}
	var errOut bytes.Buffer
	c.Logs(ctx, id, nomad.LogOptions{Task: "train", Stderr: true}, &errOut)
	if errOut.String() != "warning\n" {
		t.Fatalf("stderr %q", errOut.String())
	}
	// Follow: lines written later arrive, and the stream ends with the alloc.
	pr := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- c.Logs(ctx, id, nomad.LogOptions{Task: "train", Follow: true}, pr) }()
	waitFor(t, func() bool { return pr.String() == "epoch 1\n" })
	srv.WriteLog(id, "train", false, "epoch 2\n")
	waitFor(t, func() bool { return pr.String() == "epoch 1\nepoch 2\n" })
	srv.CompleteAlloc(id)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := c.Logs(ctx, id, nomad.LogOptions{Task: "nope"}, &errOut); err == nil {
		t.Fatal("unknown task must fail")
	}
}

// waitFor polls cond; it is a synchronisation aid, not a timing assertion.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventStreamThroughClient(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Events(ctx, "", 0, api.TopicJob, api.TopicEvaluation, api.TopicAllocation, api.TopicNode)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddNode(nomadtest.NodeSpec{Name: "n", Pool: "gpu", GPUs: 1})
	c.RegisterJob(context.Background(), gpuJob("ev", "gpu", 1), false, 0)
	seen := map[string]bool{}
	for evs := range ch {
		if evs.Err != nil {
			t.Fatal(evs.Err)
		}
		for _, e := range evs.Events {
			seen[string(e.Topic)+"/"+e.Type] = true
			if e.Topic == api.TopicAllocation {
				a, err := e.Allocation()
				if err != nil || a.JobID != "ev" {
					t.Fatalf("alloc payload %v %v", a, err)
				}
			}
		}
		if seen["Node/NodeRegistration"] && seen["Job/JobRegistered"] && seen["Evaluation/JobRegistered"] && seen["Allocation/PlanResult"] {
			return
		}
	}
	t.Fatalf("stream ended; saw %v", seen)
}

func TestStatsAndIdentity(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	node := srv.AddNode(nomadtest.NodeSpec{Name: "n", Pool: "gpu", GPUs: 2})
	c.RegisterJob(ctx, gpuJob("st", "gpu", 1), false, 0)
	id := srv.Allocs("default", "st")[0].ID
	srv.StartAlloc(id)
	srv.SetAllocStats(id, &api.AllocResourceUsage{ResourceUsage: &api.ResourceUsage{
		MemoryStats: &api.MemoryStats{RSS: 123 << 20, MaxUsage: 200 << 20},
		CpuStats:    &api.CpuStats{Percent: 87.5},
	}})
	u, err := c.AllocationStats(ctx, id)
	if err != nil || u.ResourceUsage.MemoryStats.RSS != 123<<20 || u.ResourceUsage.CpuStats.Percent != 87.5 {
		t.Fatalf("alloc stats %+v %v", u, err)
	}
	h, err := c.ClientStats(ctx, node)
	if err != nil || len(h.DeviceStats) != 1 || len(h.DeviceStats[0].InstanceStats) != 2 {
		t.Fatalf("host stats %+v %v", h, err)
	}
	me, err := c.Self(ctx)
	if err != nil || me.String() != "" {
		t.Fatalf("ACLs off: %+v %v", me, err)
	}
	srv.RequireToken("s3cret")
	if _, err := c.Jobs(ctx, ""); !errors.Is(err, nomad.ErrPermission) {
		t.Fatalf("no token: %v", err)
	}
	withTok, _ := nomad.New(nomad.Config{Address: srv.URL(), Token: "s3cret", Getenv: func(string) string { return "" }})
	me, err = withTok.Self(ctx)
	if err != nil || me.String() != "caravan-test" {
		t.Fatalf("self %+v %v", me, err)
	}
}
