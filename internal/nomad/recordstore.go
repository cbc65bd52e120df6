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

// Record reads the record at ref and its ModifyIndex (for PutRecord's
// cas). A missing record is ErrNotFound; one that cannot be decoded is
// ErrCorrupt naming the variable path.
func (c *Client) Record(ctx context.Context, ref record.Ref) (*record.Run, uint64, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.Path())
	if err != nil {
		return nil, 0, err
	}
	var r record.Run
	if err := decodeItem(v.Items, itemRecord, itemRecordGz, &r); err != nil {
		return nil, 0, c.corrupt(ref.Namespace, ref.Path(), err)
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

// PutRecord writes a run's record, at the path of its project, with
// check-and-set cas (NoCAS for unconditional) and returns the new
// ModifyIndex.
func (c *Client) PutRecord(ctx context.Context, namespace string, r *record.Run, cas int64) (uint64, error) {
	if r.RunID == "" {
		return 0, errors.New("write run record: the record has no run ID")
	}
	path := r.Ref(namespace).Path()
	items, err := encodeItems(r, itemRecord, itemRecordGz)
	if err != nil {
		return 0, c.tooLarge(namespace, path, err)
	}
	return c.writeVariable(ctx, namespace, path, items, cas)
}

// DeleteRecord removes a run's record and usage (e2e cleanup, explicit
// forgetting; caravan commands keep records).
func (c *Client) DeleteRecord(ctx context.Context, ref record.Ref) error {
	if err := c.DeleteVariable(ctx, ref.Namespace, ref.UsagePath(), NoCAS); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := c.DeleteVariable(ctx, ref.Namespace, ref.Path(), NoCAS); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// RecordScope says whose records a listing returns.
type RecordScope struct {
	// All lists the records of every project and of no project; else
	// only Project's ("" meaning the runs of no project).
	All     bool
	Project string
}

// RecordRefs lists where the run records in scope are, in namespace
// (AllNamespaces for all), in Nomad's order (by path). It reads paths
// only: its cost grows with pages of Nomad's listing, not with runs.
func (c *Client) RecordRefs(ctx context.Context, namespace string, scope RecordScope) ([]record.Ref, error) {
	prefixes := []string{record.ProjectPrefix(scope.Project)}
	if scope.All {
		prefixes = []string{record.RunsPrefix, record.ProjectsPrefix}
	}
	var refs []record.Ref
	ended := map[string]bool{}
	for _, prefix := range prefixes {
		metas, err := c.Variables(ctx, namespace, prefix)
		if err != nil {
			return nil, err
		}
		for _, m := range metas {
			if project, id, ok := record.ParsePath(m.Path); ok {
				refs = append(refs, record.Ref{Namespace: m.Namespace, Project: project, RunID: id})
			} else if project, id, ok := record.ParseOutcomePath(m.Path); ok {
				ended[m.Namespace+"/"+project+"/"+id] = true
			}
		}
	}
	for i, r := range refs {
		refs[i].Ended = ended[r.Namespace+"/"+r.Project+"/"+r.RunID]
	}
	return refs, nil
}

// Items of the variable holding a run's outcome.
const (
	itemOutcome   = "outcome"
	itemOutcomeGz = "outcome_gz"
)

// Outcome reads how the run at ref ended; missing is ErrNotFound (the run
// has not ended, or ended before a controller recorded it), undecodable is
// ErrCorrupt.
func (c *Client) Outcome(ctx context.Context, ref record.Ref) (*record.Outcome, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.OutcomePath())
	if err != nil {
		return nil, err
	}
	var o record.Outcome
	if err := decodeItem(v.Items, itemOutcome, itemOutcomeGz, &o); err != nil {
		return nil, c.corrupt(ref.Namespace, ref.OutcomePath(), err)
	}
	return &o, nil
}

// CreateOutcome writes how the run at ref ended, only if nothing is
// recorded yet (an existing outcome is ErrConflict: a run ends once). Log
// tails too large for a variable even compressed are cut from the front,
// halving until the outcome fits.
func (c *Client) CreateOutcome(ctx context.Context, ref record.Ref, o *record.Outcome) error {
	cur := *o
	for {
		items, err := encodeItems(&cur, itemOutcome, itemOutcomeGz)
		if err == nil {
			_, err = c.writeVariable(ctx, ref.Namespace, ref.OutcomePath(), items, 0)
			return err
		}
		if len(cur.Stdout)+len(cur.Stderr) < 1024 {
			return c.tooLarge(ref.Namespace, ref.OutcomePath(), err)
		}
		cur.Stdout, cur.Stderr = tailHalf(cur.Stdout), tailHalf(cur.Stderr)
	}
}

// tailHalf keeps the second half of s, from its first whole line.
func tailHalf(s string) string {
	s = s[len(s)/2:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	return s
}

// FindRecord says where run runID's record is in namespace: under its
// project's prefix or, for a run of no project, under record.RunsPrefix.
// No record by that ID is ErrNotFound.
func (c *Client) FindRecord(ctx context.Context, namespace, runID string) (record.Ref, error) {
	refs, err := c.RecordRefs(ctx, namespace, RecordScope{All: true})
	if err != nil {
		return record.Ref{}, err
	}
	for _, r := range refs {
		if r.RunID == runID {
			return r, nil
		}
	}
	ns := c.ns(namespace)
	return record.Ref{}, &Error{Kind: ErrNotFound, Op: "find run record", Address: c.address, Namespace: ns,
		text: fmt.Sprintf("no record of run %q in namespace %q of Nomad at %s", runID, ns, c.address)}
}

// Usage reads the usage summary of the run at ref; missing is ErrNotFound
// (the agent has not written one, e.g. the run never started), undecodable
// is ErrCorrupt.
func (c *Client) Usage(ctx context.Context, ref record.Ref) (*record.Usage, error) {
	v, err := c.Variable(ctx, ref.Namespace, ref.UsagePath())
	if err != nil {
		return nil, err
	}
	var u record.Usage
	if err := decodeItem(v.Items, itemUsage, itemUsageGz, &u); err != nil {
		return nil, c.corrupt(ref.Namespace, ref.UsagePath(), err)
	}
	return &u, nil
}

// PutUsage writes a run's usage summary next to its record (the agent is
// its only writer, so it is unconditional). A summary too large for a
// variable even compressed has its timeline and metric series halved until
// it fits: coarser history beats none.
func (c *Client) PutUsage(ctx context.Context, namespace string, u *record.Usage) error {
	if u.RunID == "" {
		return errors.New("write run usage: the usage summary has no run ID")
	}
	path := record.Ref{Namespace: namespace, Project: u.Project, RunID: u.RunID}.UsagePath()
	cur := u
	for {
		items, err := encodeItems(cur, itemUsage, itemUsageGz)
		if err == nil {
			_, err = c.writeVariable(ctx, namespace, path, items, NoCAS)
			return err
		}
		cp := *cur
		if !cp.Halve() {
			return c.tooLarge(namespace, path, err)
		}
		cur = &cp
	}
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
