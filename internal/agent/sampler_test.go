//go:build cgo && linux

package agent

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/gpu/nvmlmock"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestSamplerWritesEveryMinuteAndAtTheEnd(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Minute)
	ctx := context.Background()
	// 13 samples at 5 s: the 13th is 60 s after the first → one flush each.
	for i := range 13 {
		if i == 6 {
			tn.mock.InjectXID(0, 79) // on run A's GPU
		}
		tn.nomad.stats[allocA].ResourceUsage.MemoryStats.RSS = uint64(8<<30 + i<<20)
		s.Sample(ctx)
		tn.clock.Advance(5 * time.Second)
	}
	if len(tn.nomad.usage) != 2 {
		t.Fatalf("after a minute: %d writes, want 2 (one per run)", len(tn.nomad.usage))
	}
	var a record.Usage
	for _, u := range tn.nomad.usage {
		if u.AllocID == allocA {
			a = u
		}
	}
	if a.RunID != "resnet50-1a2b3c4d" || a.Final || a.Samples != 13 || a.Node != "gpu-node-1" || a.IntervalS != 5 {
		t.Errorf("usage header: %+v", a)
	}
	if math.Abs(a.GPUUtilMean-0.05) > 1e-9 || math.Abs(a.GPUUtilPeak-0.05) > 1e-9 {
		t.Errorf("util mean/peak = %v/%v, want 0.05", a.GPUUtilMean, a.GPUUtilPeak)
	}
	if a.GPUMemPeak != 3<<30 || a.GPUMemTotal != 80*1024<<20 || a.RSSPeak != 8<<30+12<<20 || a.MemLimit != 16<<30 {
		t.Errorf("peaks: gpu mem %d total %d rss %d limit %d", a.GPUMemPeak, a.GPUMemTotal, a.RSSPeak, a.MemLimit)
	}
	if a.GPUs != 1 || len(a.GPUUUIDs) != 1 || a.GPUUUIDs[0] != nvmlmock.UUID(0) {
		t.Errorf("GPUs: %d %v", a.GPUs, a.GPUUUIDs)
	}
	if len(a.XIDs) != 1 || a.XIDs[0].Code != 79 {
		t.Errorf("XIDs = %+v, want the one on its GPU", a.XIDs)
	}
	if n := len(a.Timeline.T); n != 13 || a.Timeline.T[12] != 60 || a.Timeline.RSS[12] != float64(8<<30+12<<20) {
		t.Errorf("timeline: %d points, last t %v", n, a.Timeline.T)
	}

	// Run B ends: its allocation completes; the next sample writes it final.
	tn.nomad.setStatus(allocB, api.AllocClientStatusComplete)
	s.Sample(ctx)
	last := tn.nomad.usage[len(tn.nomad.usage)-1]
	if last.AllocID != allocB || !last.Final || last.Samples != 13 {
		t.Errorf("final write: %+v", last)
	}
	if got := len(s.Summaries()); got != 1 {
		t.Errorf("%d summaries left, want 1", got)
	}
}

func TestSamplerKeepsRunsWhileNomadIsDown(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Minute)
	s.Sample(context.Background())
	tn.nomad.listErr = errDown
	for range 2 * missingLimit {
		tn.clock.Advance(5 * time.Second)
		s.Sample(context.Background())
	}
	// Processes still show the allocations (cached), so the runs live on.
	if len(tn.nomad.usage) != 0 || len(s.Summaries()) != 2 {
		t.Errorf("runs must not end because Nomad is unreachable: %d writes, %d summaries", len(tn.nomad.usage), len(s.Summaries()))
	}
}

// TestSamplerKeepsRunsWithoutGPUProcessesWhileNomadIsDown covers a run
// that has no GPU process when the allocation list fails (loading data,
// checkpointing): finalising it would let the next sample start a fresh
// summary that overwrites the run's usage.
func TestSamplerKeepsRunsWithoutGPUProcessesWhileNomadIsDown(t *testing.T) {
	const allocD = "0d0d0d0d-4444-4d5e-9f60-000000000004"
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	tn.nomad.allocs[allocD] = mkAlloc(allocD, "prep-0d0d0d0d", "prep", nil)
	tn.nomad.stats[allocD] = mkUsage(1<<30, 0, 100)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Hour)
	s.Sample(context.Background())
	if got := len(s.Summaries()); got != 3 {
		t.Fatalf("%d summaries, want 3 (two GPU runs and the CPU-only one)", got)
	}
	tn.nomad.listErr = errDown
	for range 2 * missingLimit {
		tn.clock.Advance(5 * time.Second)
		s.Sample(context.Background())
	}
	for _, u := range tn.nomad.usage {
		if u.AllocID == allocD {
			t.Fatalf("run without GPU processes written while Nomad was down (final=%v); its end is unknown", u.Final)
		}
	}
	if got := len(s.Summaries()); got != 3 {
		t.Errorf("%d summaries after the outage, want 3", got)
	}
	// Nomad is back and the allocation is gone: now the run ends.
	tn.nomad.listErr = nil
	delete(tn.nomad.allocs, allocD)
	tn.clock.Advance(5 * time.Second)
	s.Sample(context.Background())
	last := tn.nomad.usage[len(tn.nomad.usage)-1]
	if last.AllocID != allocD || !last.Final || last.Samples != 1 {
		t.Errorf("after Nomad recovered: last write %+v, want allocD final with its 1 sample", last)
	}
}

// TestSamplerWithoutNodeIDEndsUnseenRuns: with no allocation list at all,
// a run whose processes are gone for missingLimit samples is over.
func TestSamplerWithoutNodeIDEndsUnseenRuns(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	tn.agent.cfg.NodeID = ""
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Hour)
	s.Sample(context.Background())
	if got := len(s.Summaries()); got != 2 {
		t.Fatalf("%d summaries, want 2 (found through GPU processes)", got)
	}
	tn.mock.Device(0).GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
	for i := range missingLimit {
		if len(tn.nomad.usage) != 0 {
			t.Fatalf("written after %d samples unseen, want %d", i, missingLimit)
		}
		tn.clock.Advance(5 * time.Second)
		s.Sample(context.Background())
	}
	if len(tn.nomad.usage) != 1 || tn.nomad.usage[0].AllocID != allocA || !tn.nomad.usage[0].Final {
		t.Errorf("writes %+v, want run A final", tn.nomad.usage)
	}
}

func TestSamplerBoundsXIDsPerRun(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Hour)
	s.Sample(context.Background())
	for range 2*maxRunXIDs/50 + 1 {
		for range 50 {
			tn.mock.InjectXID(0, 48) // a double-bit ECC error, on run A's GPU, over and over
		}
		tn.clock.Advance(5 * time.Second)
		s.Sample(context.Background())
	}
	found := false
	for _, u := range s.Summaries() {
		if u.AllocID == allocA {
			found = true
			if len(u.XIDs) != maxRunXIDs {
				t.Errorf("run A keeps %d XIDs, want the first %d", len(u.XIDs), maxRunXIDs)
			}
		}
	}
	if !found {
		t.Fatal("no summary of run A")
	}
}

// TestSamplerWritesOnTheMinute: a snapshot takes time, so the clock has
// moved on by the time a summary is written; writes must still come every
// flushEvery of sample time, not drift a sample later each time.
func TestSamplerWritesOnTheMinute(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	clk := tn.clock
	tn.agent.cfg.Now = func() time.Time { clk.Advance(time.Millisecond); return clk.Now() }
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Minute)
	start := clk.Now()
	for k := 1; k <= 121; k++ { // 0 s … 600 s, as a ticker would start them
		s.Sample(context.Background())
		clk.Advance(start.Add(time.Duration(k) * 5 * time.Second).Sub(clk.Now()))
	}
	n := 0
	for _, u := range tn.nomad.usage {
		if u.AllocID == allocA {
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d writes of run A in 10 minutes, want 10 (one a minute)", n)
	}
}

func TestSamplerRunFlushesOnShutdown(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, time.Hour, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for {
		tn.nomad.mu.Lock()
		n := tn.nomad.calls["NodeAllocations"]
		tn.nomad.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(tn.nomad.usage) != 2 || tn.nomad.usage[0].Final {
		t.Errorf("shutdown must write open summaries, not final: %+v", tn.nomad.usage)
	}
}

// TestSamplerLeavesGapsOverFailedSources: a sample whose source failed
// has no data, which the timeline keeps as a gap: neither a drop to 0 nor
// a repeat of the last value, which would both be invented.
func TestSamplerLeavesGapsOverFailedSources(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Minute)
	s.Sample(context.Background())
	tn.nomad.statsErr = errDown // allocation stats unreadable for one sample
	tn.clock.Advance(5 * time.Second)
	s.Sample(context.Background())
	tn.nomad.statsErr = nil
	tn.clock.Advance(5 * time.Second)
	s.Sample(context.Background())
	for _, u := range s.Summaries() {
		rss := u.Timeline.RSS
		if len(rss) != 3 || rss[0] == 0 || !math.IsNaN(rss[1]) || rss[2] != rss[0] {
			t.Errorf("run %s: RSS timeline %v; want a gap (NaN) where the read failed", u.RunID, rss)
		}
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("a summary with a gap must encode: %v", err)
		}
		if !strings.Contains(string(b), `,null,`) {
			t.Errorf("run %s: the gap is not null in JSON: %s", u.RunID, b)
		}
	}
}

// TestScrapeAndSampleConcurrently runs scrapes alongside the sampler, as
// the agent does; run it with -race.
func TestScrapeAndSampleConcurrently(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 4, ProcsPerGPU: 2}, time.Second, nil)
	s := NewSampler(tn.agent, tn.nomad, 5*time.Second, time.Minute)
	c := NewCollector(tn.agent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			s.Sample(context.Background())
		}
	}()
	for range 20 {
		if text := scrape(t, c); !strings.Contains(text, "caravan_gpu_utilization_ratio{") {
			t.Fatal("scrape without GPU series")
		}
	}
	<-done
}

// setStatus moves allocation id to status, as its client would.
func (f *fakeNomad) setStatus(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := *f.allocs[id]
	a.ClientStatus = status
	f.allocs[id] = &a
}
