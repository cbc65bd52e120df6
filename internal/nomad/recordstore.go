package nomad

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
)

// Items of the variables holding records and usage. A value is stored as
// plain JSON when it is small, and gzip+base64 under the *_gz item when it
// would otherwise approach Nomad's 64 KiB variable limit.
const (
	itemRecord   = "record"
	itemRecordGz = "record_gz"
	itemUsage    = "usage"
	itemUsageGz  = "usage_gz"
	itemFormat   = "format"
	formatV1     = "caravan/v1"
	// compressAbove leaves room for the items' keys and Nomad's framing.
	compressAbove = 48 * 1024
	maxInflated   = 32 << 20
)

// Record reads a run's record and its ModifyIndex (for PutRecord's cas).
// A missing record is ErrNotFound; one that cannot be decoded is ErrCorrupt
// naming the variable path.
func (c *Client) Record(ctx context.Context, namespace, runID string) (*record.Run, uint64, error) {
	v, err := c.Variable(ctx, namespace, record.Path(runID))
	if err != nil {
		return nil, 0, err
	}
	var r record.Run
	if err := decodeItem(v.Items, itemRecord, itemRecordGz, &r); err != nil {
		return nil, 0, c.corrupt(namespace, record.Path(runID), err)
	}
	return &r, v.ModifyIndex, nil
}

// CreateRecord writes a run's record only if none exists (cas 0). An
// existing record is ErrConflict: a run's history is never overwritten by
// a second submission.
func (c *Client) CreateRecord(ctx context.Context, namespace string, r *record.Run) error {
	_, err := c.PutRecord(ctx, namespace, r, 0)
	return err
}

// PutRecord writes a run's record with check-and-set cas (NoCAS for
// unconditional) and returns the new ModifyIndex.
func (c *Client) PutRecord(ctx context.Context, namespace string, r *record.Run, cas int64) (uint64, error) {
	if r.RunID == "" {
		return 0, errors.New("write run record: the record has no run ID")
	}
	items, err := encodeItems(r, itemRecord, itemRecordGz)
	if err != nil {
		return 0, c.tooLarge(namespace, record.Path(r.RunID), err)
	}
	return c.writeVariable(ctx, namespace, record.Path(r.RunID), items, cas)
}

// DeleteRecord removes a run's record and usage (e2e cleanup, explicit
// forgetting; caravan commands keep records).
func (c *Client) DeleteRecord(ctx context.Context, namespace, runID string) error {
	if err := c.DeleteVariable(ctx, namespace, record.UsagePath(runID), NoCAS); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := c.DeleteVariable(ctx, namespace, record.Path(runID), NoCAS); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// RecordIDs lists the run IDs that have a record in namespace
// (AllNamespaces for all), in Nomad's order (by path).
func (c *Client) RecordIDs(ctx context.Context, namespace string) ([]string, error) {
	metas, err := c.Variables(ctx, namespace, record.Prefix)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(metas))
	for _, m := range metas {
		id := strings.TrimPrefix(m.Path, record.Prefix)
		if id == "" || strings.Contains(id, "/") {
			continue // usage and anything deeper
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// record.Usage reads a run's usage summary; missing is ErrNotFound (the agent has
// not written one, e.g. the run never started), undecodable is ErrCorrupt.
func (c *Client) Usage(ctx context.Context, namespace, runID string) (*record.Usage, error) {
	v, err := c.Variable(ctx, namespace, record.UsagePath(runID))
	if err != nil {
		return nil, err
	}
	var u record.Usage
	if err := decodeItem(v.Items, itemUsage, itemUsageGz, &u); err != nil {
		return nil, c.corrupt(namespace, record.UsagePath(runID), err)
	}
	return &u, nil
}

// PutUsage writes a run's usage summary (the agent is its only writer, so
// it is unconditional). A summary too large for a variable even compressed
// has its timeline halved until it fits: coarser history beats none.
func (c *Client) PutUsage(ctx context.Context, namespace string, u *record.Usage) error {
	if u.RunID == "" {
		return errors.New("write run usage: the usage summary has no run ID")
	}
	cur := u
	for {
		items, err := encodeItems(cur, itemUsage, itemUsageGz)
		if err == nil {
			_, err = c.writeVariable(ctx, namespace, record.UsagePath(u.RunID), items, NoCAS)
			return err
		}
		if len(cur.Timeline.T) < 2 {
			return c.tooLarge(namespace, record.UsagePath(u.RunID), err)
		}
		cp := *cur
		cp.Timeline = halve(cur.Timeline)
		cur = &cp
	}
}

func halve(t record.Timeline) record.Timeline {
	h := func(s []float64) []float64 {
		if s == nil {
			return nil
		}
		out := make([]float64, 0, (len(s)+1)/2)
		for i := 0; i < len(s); i += 2 {
			out = append(out, s[i])
		}
		return out
	}
	return record.Timeline{T: h(t.T), GPUUtil: h(t.GPUUtil), GPUMem: h(t.GPUMem), RSS: h(t.RSS), CPU: h(t.CPU), NetRx: h(t.NetRx), NetTx: h(t.NetTx)}
}

var errTooLarge = errors.New("too large")

// encodeItems returns the items holding v as JSON, compressed if needed,
// or errTooLarge.
func encodeItems(v any, plain, gz string) (map[string]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) <= compressAbove {
		return map[string]string{itemFormat: formatV1, plain: string(b)}, nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	s := base64.StdEncoding.EncodeToString(buf.Bytes())
	if len(s) > compressAbove {
		return nil, fmt.Errorf("%w: %d bytes of JSON, %d compressed", errTooLarge, len(b), len(s))
	}
	return map[string]string{itemFormat: formatV1, gz: s}, nil
}

func decodeItem(items map[string]string, plain, gz string, out any) error {
	if s, ok := items[plain]; ok {
		return json.Unmarshal([]byte(s), out)
	}
	s, ok := items[gz]
	if !ok {
		return fmt.Errorf("it has no %q item (items: %s)", plain, itemNames(items))
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("item %q: %w", gz, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("item %q: %w", gz, err)
	}
	// A record never needs more than a few MiB once inflated; the limit
	// keeps a hostile variable from inflating without bound.
	b, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return fmt.Errorf("item %q: %w", gz, err)
	}
	if len(b) > maxInflated {
		return fmt.Errorf("item %q inflates beyond %d MiB", gz, maxInflated>>20)
	}
	return json.Unmarshal(b, out)
}

func itemNames(items map[string]string) string {
	if len(items) == 0 {
		return "none"
	}
	names := make([]string, 0, len(items))
	for k := range items {
		names = append(names, k)
	}
	return strings.Join(sortStrings(names), ", ")
}

func (c *Client) corrupt(namespace, path string, err error) error {
	ns := c.ns(namespace)
	return &Error{Kind: ErrCorrupt, Op: "read " + path, Address: c.address, Namespace: ns, Err: err,
		text: fmt.Sprintf("the variable %s in namespace %q at %s is not a valid caravan record: %v (inspect it with `nomad var get %s`; delete it with `nomad var purge %s` if it is garbage)", path, ns, c.address, err, path, path)}
}

func (c *Client) tooLarge(namespace, path string, err error) error {
	ns := c.ns(namespace)
	return &Error{Kind: ErrTooLarge, Op: "write " + path, Address: c.address, Namespace: ns, Err: err,
		text: fmt.Sprintf("cannot write %s: it exceeds Nomad's %d KiB variable limit even compressed (%v); reduce the run's params or spec size", path, MaxVariableSize/1024, err)}
}
