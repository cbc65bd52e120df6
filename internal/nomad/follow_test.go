package nomad

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// scriptedStreams hands out one scripted stream per subscription and
// records the index each subscription asked for.
type scriptedStreams struct {
	streams [][]*api.Events
	asked   []uint64
}

func (s *scriptedStreams) Events(ctx context.Context, _ string, index uint64, _ ...api.Topic) (<-chan *api.Events, error) {
	s.asked = append(s.asked, index)
	if len(s.streams) == 0 {
		return nil, errors.New("no more streams")
	}
	ch := make(chan *api.Events, len(s.streams[0]))
	for _, e := range s.streams[0] {
		ch <- e
	}
	close(ch)
	s.streams = s.streams[1:]
	return ch, nil
}

func TestFollowResubscribesAfterTheLastIndexSeen(t *testing.T) {
	ev := func(i uint64) *api.Events { return &api.Events{Index: i, Events: []api.Event{{Index: i}}} }
	src := &scriptedStreams{streams: [][]*api.Events{
		{ev(5), {Index: 9}, ev(7), {Err: errors.New("broken")}, ev(99)},
		{nil, ev(12)},
	}}
	var seen []uint64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	Follow(ctx, src, slog.New(slog.NewTextHandler(io.Discard, nil)), "ns", nil, "testing", func(evs []api.Event) bool {
		seen = append(seen, evs[0].Index)
		return evs[0].Index != 12
	})
	if want := []uint64{5, 7, 12}; !slices.Equal(seen, want) {
		t.Errorf("handled %v, want %v (empty batches skipped, nothing after a broken stream)", seen, want)
	}
	// The first subscription starts now; the second after the last event
	// handled, not after the empty batch (a heartbeat) or from 0.
	if want := []uint64{0, 8}; !slices.Equal(src.asked, want) {
		t.Errorf("subscribed from %v, want %v", src.asked, want)
	}
}
