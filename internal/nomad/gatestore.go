package nomad

import (
	"context"
	"errors"

	"github.com/caravan-ml/caravan/internal/record"
)

// Items of a gate's variable (see record.Gate).
const (
	itemGate   = "gate"
	itemGateGz = "gate_gz"
)

// GateRefs lists where the gates are in namespace (AllNamespaces for all),
// of every project. It reads paths only.
func (c *Client) GateRefs(ctx context.Context, namespace string) ([]record.GateRef, error) {
	metas, err := c.Variables(ctx, namespace, record.GatesPrefix)
	if err != nil {
		return nil, err
	}
	refs := make([]record.GateRef, 0, len(metas))
	for _, m := range metas {
		if project, id, ok := record.ParseGatePath(m.Path); ok {
			refs = append(refs, record.GateRef{Namespace: m.Namespace, Project: project, RunID: id})
		}
	}
	return refs, nil
}

// Gate reads the gate at ref and its ModifyIndex (for PutGate's and
// DeleteGate's check-and-set). Missing is ErrNotFound; undecodable is
// ErrCorrupt.
func (c *Client) Gate(ctx context.Context, ref record.GateRef) (*record.Gate, uint64, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.Path())
	if err != nil {
		return nil, 0, err
	}
	var g record.Gate
	if err := decodeItem(v.Items, itemGate, itemGateGz, &g); err != nil {
		return nil, 0, c.corrupt(ref.Namespace, ref.Path(), err)
	}
	if g.Namespace == "" {
		g.Namespace = v.Namespace
	}
	return &g, v.ModifyIndex, nil
}

// CreateGate writes a gate only if none exists at its path (an existing
// one is ErrConflict): two applies of the same run write it once.
func (c *Client) CreateGate(ctx context.Context, g *record.Gate) error {
	_, err := c.PutGate(ctx, g, 0)
	return err
}

// PutGate writes g at its path in its namespace with check-and-set cas
// (NoCAS for unconditional) and returns the new ModifyIndex.
func (c *Client) PutGate(ctx context.Context, g *record.Gate, cas int64) (uint64, error) {
	if g.RunID == "" || g.Namespace == "" {
		return 0, errors.New("write a run's gate: it has no run ID or namespace")
	}
	ref := g.Ref()
	items, err := encodeItems(g, itemGate, itemGateGz)
	if err != nil {
		return 0, c.tooLarge(g.Namespace, ref.Path(), err)
	}
	return c.writeVariable(ctx, g.Namespace, ref.Path(), items, cas)
}

// DeleteGate removes the gate at ref if its ModifyIndex is still cas
// (NoCAS: whatever it is); a gate changed since is ErrConflict.
func (c *Client) DeleteGate(ctx context.Context, ref record.GateRef, cas int64) error {
	return c.DeleteVariable(ctx, ref.Namespace, ref.Path(), cas)
}
