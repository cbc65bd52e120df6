package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
)

// ensureJob reads the job in full from Nomad (a record keeps the job as
// Nomad has it; the event stream's copy of a job is decoded loosely by the
// api package and loses fields) and writes its record. A job purged since
// it was seen is no error.
func (c *Controller) ensureJob(ctx context.Context, ref jobRef) error {
	c.mu.Lock()
	known := c.recorded[key(ref.ns, ref.id)]
	c.mu.Unlock()
	if known {
		return nil
	}
	job, err := c.cfg.Nomad.Job(ctx, ref.ns, ref.id)
	if errors.Is(err, nomad.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.ensure(ctx, job)
}

// ensure writes job's record unless it is known to exist. A record that
// exists already (another controller, or an older caravan that wrote it at
// apply time) is left as it is: history is never overwritten.
func (c *Controller) ensure(ctx context.Context, job *api.Job) error {
	if job == nil || !nomad.IsCaravanJob(job.Meta) {
		return nil
	}
	rec, err := query.RecordOf(job)
	if err != nil {
		return err
	}
	k := key(rec.Namespace, rec.RunID)
	c.mu.Lock()
	known := c.recorded[k]
	c.mu.Unlock()
	if known {
		return nil
	}
	err = c.cfg.Nomad.CreateRecord(ctx, rec.Namespace, rec)
	switch {
	case errors.Is(err, nomad.ErrConflict):
	case err != nil:
		c.cfg.Metrics.failed()
		return fmt.Errorf("write the record of run %s: %w", rec.RunID, err)
	default:
		c.cfg.Metrics.wrote()
	}
	c.mu.Lock()
	c.recorded[k] = true
	c.mu.Unlock()
	return nil
}
