package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/gpu"
)

// hungEvents is a gpu.Source whose one device reads at once and whose XID
// event poll blocks until released, as a driver hang in NVML's event wait
// would.
type hungEvents struct {
	release chan struct{}
	mu      sync.Mutex
	polls   int
}

func (h *hungEvents) Devices() []gpu.Device {
	return []gpu.Device{{Index: 0, UUID: "GPU-00000000-0000-4000-8000-000000000000", Name: "Fake"}}
}

func (h *hungEvents) Read(_ context.Context, i int) (gpu.Stats, error) {
	s := gpu.NewStats(h.Devices()[i])
	s.Util = 0.5
	return s, nil
}

func (h *hungEvents) PollXIDs() []gpu.XID {
	h.mu.Lock()
	h.polls++
	h.mu.Unlock()
	<-h.release
	return nil
}

func (h *hungEvents) Close() error { return nil }

// returns fails the test when fn has not returned after a minute: fn is
// bounded by deadlines of a few milliseconds, so this only tells a hang
// from a return, and measures nothing.
func returns(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s never returned: a hung XID event poll blocked it", what)
	}
}

// TestHungXIDPollBlocksNeitherScrapeNorSample: a driver hang in the XID
// event poll must cost a scrape and a sample no more than a hung device
// read does, and be reported as a failed source.
func TestHungXIDPollBlocksNeitherScrapeNorSample(t *testing.T) {
	src := &hungEvents{release: make(chan struct{})}
	t.Cleanup(func() { close(src.release) })
	fn := newFakeNomad()
	a := New(Config{Node: "gpu-node-1", NodeID: nodeID, Pool: "a100", ProcRoot: "testdata/proc",
		GPU: gpu.NewReader(src, 10*time.Millisecond), Nomad: fn, Now: newClock().Now})
	c := NewCollector(a)
	for i := range 2 {
		var text string
		returns(t, "a scrape", func() { text = scrape(t, c) })
		for _, want := range []string{
			`caravan_gpu_utilization_ratio{gpu="0",model="Fake",node="gpu-node-1",pool="a100",uuid="GPU-00000000-0000-4000-8000-000000000000"} 0.5`,
			`caravan_agent_source_success{node="gpu-node-1",pool="a100",source="nvml"} 1`,
			`caravan_agent_source_success{node="gpu-node-1",pool="a100",source="nvml_events"} 0`,
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("scrape %d lacks %s", i+1, want)
			}
		}
	}
	s := NewSampler(a, fn, time.Second, time.Minute)
	returns(t, "a usage sample", func() { s.Sample(context.Background()) })
	src.mu.Lock()
	polls := src.polls
	src.mu.Unlock()
	if polls != 1 {
		t.Errorf("the event poll was started %d times; want 1 outstanding poll, joined by later scrapes", polls)
	}
	if err := a.cfg.GPU.Close(); err == nil {
		t.Error("Close under a hung event poll: no error; shutting NVML down under a hung call can hang too")
	}
}
