package autoscale_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
)

// burstEvents is an EventSource that delivers n event batches at once,
// like Nomad does while a sweep of n runs is submitted.
type burstEvents struct {
	n    int
	sent chan struct{}
}

func (b *burstEvents) Events(ctx context.Context, _ string, _ uint64, _ ...api.Topic) (<-chan *api.Events, error) {
	ch := make(chan *api.Events)
	go func() {
		defer close(ch)
		for i := 0; i < b.n; i++ {
			select {
			case ch <- &api.Events{Index: uint64(i + 1), Events: []api.Event{{Topic: api.TopicJob, Type: "JobRegistered"}}}:
			case <-ctx.Done():
				return
			}
		}
		close(b.sent)
		<-ctx.Done()
	}()
	return ch, nil
}

// TestBurstCoalesces: a thousand events in a burst cause a handful of
// decisions, not a thousand.
func TestBurstCoalesces(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ev := &burstEvents{n: 1000, sent: make(chan struct{})}
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools:        map[string]*spec.Pool{"gpu": gpuPool()},
		Provisioners: map[string]autoscale.Provisioner{"gpu": &memProvisioner{}},
		Nomad:        nc,
		Events:       ev,
		Resync:       time.Hour,
		Logger:       slog.New(slog.DiscardHandler),
		Metrics:      autoscale.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	<-ev.sent
	// Let the last window close and its decision finish.
	time.Sleep(700 * time.Millisecond)
	cancel()
	<-done
	decisions := metricValue(t, reg, "caravan_autoscaler_decision_seconds", nil)
	// The start and the burst share one window, or the 500 ms cap splits
	// them on a slow machine; without coalescing there would be ~1000.
	if decisions < 1 || decisions > 3 {
		t.Errorf("1000 events gave %v decisions, want 1-3", decisions)
	}
}

// breakingEvents delivers one batch at index 41 and then breaks the stream,
// recording the index each subscription asked for.
type breakingEvents struct {
	asked chan uint64
}

func (b *breakingEvents) Events(ctx context.Context, _ string, index uint64, _ ...api.Topic) (<-chan *api.Events, error) {
	select {
	case b.asked <- index:
	case <-ctx.Done():
	}
	ch := make(chan *api.Events, 2)
	ch <- &api.Events{Index: 41, Events: []api.Event{{Topic: api.TopicNode, Type: "NodeRegistration"}}}
	ch <- &api.Events{Err: context.DeadlineExceeded}
	close(ch)
	return ch, nil
}

// TestResubscribeAfterLastIndex: after the stream breaks, the loop resumes
// from the index after the last one it saw instead of replaying Nomad's
// whole event buffer from 0.
func TestResubscribeAfterLastIndex(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNodePool("gpu", "")
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ev := &breakingEvents{asked: make(chan uint64)}
	l, err := autoscale.NewLoop(autoscale.Config{
		Pools:        map[string]*spec.Pool{"gpu": gpuPool()},
		Provisioners: map[string]autoscale.Provisioner{"gpu": &memProvisioner{}},
		Nomad:        nc,
		Events:       ev,
		Resync:       time.Hour,
		Logger:       slog.New(slog.DiscardHandler),
		Metrics:      autoscale.NewMetrics(prometheus.NewRegistry()),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i, want := range []uint64{0, 42} {
		select {
		case got := <-ev.asked:
			if got != want {
				t.Fatalf("subscription %d asked for index %d, want %d", i+1, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no subscription %d within 10s", i+1)
		}
	}
}
