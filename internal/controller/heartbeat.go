package controller

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// The heartbeat says that a controller keeps records in this cluster:
// apply, which no longer writes records itself, warns when it is stale.
const (
	HeartbeatPath  = "caravan/controller/heartbeat"
	HeartbeatEvery = time.Minute
)

func (c *Controller) beat(ctx context.Context) {
	items := map[string]string{"holder": c.cfg.Holder, "at": c.cfg.Now().UTC().Format(time.RFC3339)}
	if _, err := c.cfg.Nomad.PutVariable(ctx, "default", HeartbeatPath, items, nomad.NoCAS); err != nil {
		c.log.Warn("writing the controller heartbeat failed", "path", HeartbeatPath, "err", err)
	}
}

// Heartbeat reads when a controller last said it keeps records; zero when
// none ever did.
func Heartbeat(ctx context.Context, v interface {
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
}) (time.Time, error) {
	got, err := v.Variable(ctx, "default", HeartbeatPath)
	if errors.Is(err, nomad.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, _ := time.Parse(time.RFC3339, got.Items["at"])
	return t, nil
}
