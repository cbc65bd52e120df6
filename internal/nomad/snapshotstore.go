package nomad

import (
	"context"
	"errors"

	"github.com/caravan-ml/caravan/internal/record"
)

const (
	itemSnapshot   = "snapshot"
	itemSnapshotGz = "snapshot_gz"
)

// CreateSnapshot writes a configuration snapshot at ref unless one is
// there: snapshots are content-addressed, so one already at its path is
// the same. Too large even compressed is ErrTooLarge.
func (c *Client) CreateSnapshot(ctx context.Context, ref record.SnapshotRef, s *record.ConfigSnapshot) error {
	items, err := encodeItems(s, itemSnapshot, itemSnapshotGz)
	if err != nil {
		return c.tooLarge(ref.Namespace, ref.Path(), err)
	}
	_, err = c.writeVariable(ctx, ref.Namespace, ref.Path(), items, 0)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// Snapshot reads the configuration snapshot at ref; missing is
// ErrNotFound, undecodable ErrCorrupt.
func (c *Client) Snapshot(ctx context.Context, ref record.SnapshotRef) (*record.ConfigSnapshot, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.Path())
	if err != nil {
		return nil, err
	}
	var s record.ConfigSnapshot
	if err := decodeItem(v.Items, itemSnapshot, itemSnapshotGz, &s); err != nil {
		return nil, c.corrupt(ref.Namespace, ref.Path(), err)
	}
	return &s, nil
}
