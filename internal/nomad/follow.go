package nomad

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Subscriber opens event streams; *Client is one, and tests pass fakes.
type Subscriber interface {
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Follow keeps a subscription to topics open until ctx ends and passes each
// non-empty batch of events to handle; handle returning false ends Follow.
//
// A broken stream is resubscribed from the index after the last one seen:
// from 0 Nomad replays its whole event buffer, which would only repeat
// work. While subscribing fails it retries after 1 s, doubling to 1 min,
// and logs what the caller does meanwhile (e.g. "deciding on resyncs
// only"), since every caller also resyncs on a timer.
func Follow(ctx context.Context, src Subscriber, log *slog.Logger, namespace string, topics []api.Topic, meanwhile string, handle func([]api.Event) bool) {
	backoff := time.Second
	var next uint64
	for ctx.Err() == nil {
		ch, err := src.Events(ctx, namespace, next, topics...)
		if err != nil {
			log.Warn("event stream unavailable; "+meanwhile+" until it is back", "err", err, "retry_in", backoff)
			_ = sleepCtx(ctx, backoff)
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		for evs := range ch {
			if evs == nil {
				continue
			}
			if evs.Err != nil {
				log.Warn("event stream broke; resubscribing", "err", evs.Err)
				break
			}
			if len(evs.Events) == 0 {
				continue
			}
			next = max(next, evs.Index+1)
			if !handle(evs.Events) {
				return
			}
		}
		_ = sleepCtx(ctx, backoff)
	}
}
