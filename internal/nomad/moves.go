package nomad

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/caravan-ml/caravan/internal/record"
)

// itemMoves is the item of the variable holding a run's moves.
const itemMoves = "moves"

// Moves reads the moves of the run at ref and the variable's ModifyIndex;
// a run never moved has none and index 0.
func (c *Client) Moves(ctx context.Context, ref record.Ref) ([]record.Move, uint64, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.MovesPath())
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var ms []record.Move
	if err := json.Unmarshal([]byte(v.Items[itemMoves]), &ms); err != nil {
		return nil, 0, c.corrupt(ref.Namespace, ref.MovesPath(), err)
	}
	return ms, v.ModifyIndex, nil
}

// AddMove appends m to the moves of the run at ref, with check-and-set so
// that two movers at once both keep theirs.
func (c *Client) AddMove(ctx context.Context, ref record.Ref, m record.Move) error {
	for range 5 {
		ms, idx, err := c.Moves(ctx, ref)
		if err != nil {
			return err
		}
		ms = append(ms, m)
		if len(ms) > record.MaxMoves {
			ms = ms[len(ms)-record.MaxMoves:]
		}
		b, err := json.Marshal(ms)
		if err != nil {
			return err
		}
		_, err = c.writeVariable(ctx, ref.Namespace, ref.MovesPath(), map[string]string{itemFormat: formatV1, itemMoves: string(b)}, int64(idx))
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return &Error{Kind: ErrConflict, Op: "write " + ref.MovesPath(), Address: c.address, Namespace: c.ns(ref.Namespace),
		text: "the moves of run " + ref.RunID + " kept changing while caravan added one; try again"}
}
