package query

import (
	"context"
	"errors"
	"sync"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// UsageSource reads usage summaries; *nomad.Client satisfies it.
type UsageSource interface {
	Usage(ctx context.Context, ref record.Ref) (*record.Usage, error)
}

// Usages reads the usage summary (with the run's own metrics) of each row,
// a few at a time, by run ID. A run without one is left out: its agent
// wrote none (not started, no agent on its node). Only an error other
// than a missing or corrupt summary ends the read.
func Usages(ctx context.Context, src UsageSource, rows []Run) (map[string]*record.Usage, error) {
	out := make(map[string]*record.Usage, len(rows))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, recordReadParallelism)
	for _, r := range rows {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			u, err := src.Usage(ctx, record.Ref{Namespace: r.Namespace, Project: r.Project, RunID: r.ID})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out[r.ID] = u
			case errors.Is(err, nomad.ErrNotFound), errors.Is(err, nomad.ErrCorrupt):
			case firstErr == nil:
				firstErr = err
			}
		})
	}
	wg.Wait()
	return out, firstErr
}
