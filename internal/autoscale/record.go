package autoscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// Variable paths of the autoscaler's records. `caravan pools` and
// `caravan cost` read them; the autoscaler is their only writer.
const (
	// PoolRecordPrefix + pool holds a PoolRecord.
	PoolRecordPrefix = "caravan/autoscaler/pools/"
	// CostRecordPrefix + pool + "/" + date (2006-01-02, UTC) holds a
	// CostRecord for that day.
	CostRecordPrefix = "caravan/autoscaler/cost/"
	// LeaseVariable is the path of the leader lease.
	LeaseVariable = "caravan/autoscaler/leader"
	// recordItem is the item key holding the JSON document.
	recordItem = "record"
)

// VariableStore is the part of Nomad Variables the records need.
// *nomad.Client satisfies it.
type VariableStore interface {
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
	PutVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (*api.Variable, error)
	Variables(ctx context.Context, namespace, prefix string) ([]*api.VariableMetadata, error)
}

// PoolRecord is the autoscaler's small state record of one pool: what it
// last decided and why, what Terraform holds, and what it needs to resume
// after a restart without duplicating machines.
type PoolRecord struct {
	Pool     string    `json:"pool"`
	NodePool string    `json:"node_pool"`
	Updated  time.Time `json:"updated_at"`
	Holder   string    `json:"holder,omitempty"` // process that wrote it
	// LeaderToken is the fencing token of the leadership that wrote it
	// (the lock's, see nomad.Lease.Token). A process whose own token is
	// smaller has been displaced and must not act.
	LeaderToken uint64 `json:"leader_token,omitempty"`
	// Last is the last decision that changed something (or the first).
	Last RecordedDecision `json:"last_decision"`
	// Next is the action Decide will take next if nothing changes, in
	// words ("" when none is pending), and when.
	Next   string    `json:"next_action,omitempty"`
	NextAt time.Time `json:"next_action_at,omitzero"`
	// InState are the node names in Terraform state after the last apply.
	InState []string `json:"nodes_in_state"`
	// Requested are names asked of Terraform that have not registered in
	// Nomad yet, with when; a restart keeps them instead of inventing
	// new names, so no machine is created twice.
	Requested map[string]time.Time `json:"requested,omitempty"`
	// Seen is when each node first registered (its idle clock's start).
	Seen map[string]time.Time `json:"seen,omitempty"`
	// History is Decide's history, carried across restarts; the JSON
	// key keeps its first name so that existing records load.
	History decide.History `json:"memory"`
	// Nodes counts the pool's nodes by state (ready, cordoned, draining,
	// booting, down, initializing).
	Nodes map[string]int `json:"nodes"`
	// GPUs busy and free on registered nodes; Queued and Unschedulable
	// count pending requests.
	GPUsBusy      int            `json:"gpus_busy"`
	GPUsFree      int            `json:"gpus_free"`
	Queued        int            `json:"queued"`
	QueuedGPUs    int            `json:"queued_gpus"`
	Unschedulable int            `json:"unschedulable"`
	Blocked       map[string]int `json:"blocked_reasons,omitempty"`
	Foreign       []string       `json:"foreign_nodes,omitempty"`
	// Misplaced are machines of this pool's Terraform state that
	// registered with another node pool: kept, never counted as the
	// pool's capacity, and removed only once an operator has drained them.
	Misplaced []MisplacedNode `json:"misplaced_nodes,omitempty"`
	// Terraform is the health of the pool's applies.
	Terraform TerraformStatus `json:"terraform"`
	// SpendToday is today's (UTC) node cost in dollars.
	SpendToday   float64 `json:"spend_today_dollars"`
	PricePerHour float64 `json:"price_per_hour"`
	DryRun       bool    `json:"dry_run,omitempty"`
}

// MisplacedNode is a machine that registered with another node pool than
// its pool's.
type MisplacedNode struct {
	Name     string `json:"name"`
	NodePool string `json:"node_pool"`
	// Allocs counts the allocations it runs (of that node pool's work).
	Allocs int `json:"allocations"`
}

// RecordedDecision is a decision as kept in a PoolRecord.
type RecordedDecision struct {
	Time    time.Time       `json:"time"`
	Reason  string          `json:"reason"`
	Actions []decide.Action `json:"actions,omitempty"`
	Target  []string        `json:"target_nodes"`
}

// TerraformStatus says how the pool's Terraform applies go.
type TerraformStatus struct {
	LastApply   time.Time `json:"last_apply,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"consecutive_failures,omitempty"`
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
}

// CostRecord and CostFigures are the autoscaler's cost accounting, whose
// data type lives in internal/record so that readers of costs need not
// link the autoscaler.
type (
	CostRecord  = record.Cost
	CostFigures = record.CostFigures
)

// maxRunsPerDay bounds a CostRecord under Nomad's variable size limit.
const maxRunsPerDay = 400

// LoadPoolRecord reads a pool's record; ok is false when none exists.
func LoadPoolRecord(ctx context.Context, s VariableStore, ns, pool string) (PoolRecord, bool, error) {
	r, ok, _, err := loadPoolRecord(ctx, s, ns, pool)
	return r, ok, err
}

// loadPoolRecord is LoadPoolRecord with the variable's modify index, for
// the check-and-set of the next write.
func loadPoolRecord(ctx context.Context, s VariableStore, ns, pool string) (PoolRecord, bool, uint64, error) {
	var r PoolRecord
	ok, idx, err := loadJSON(ctx, s, ns, PoolRecordPrefix+pool, &r)
	return r, ok, idx, err
}

// LoadPoolRecords reads every pool record.
func LoadPoolRecords(ctx context.Context, s VariableStore, ns string) ([]PoolRecord, error) {
	return loadRecords[PoolRecord](ctx, s, ns, PoolRecordPrefix, "pool records", nil)
}

// LoadCostRecords reads the cost records of every pool for the UTC days
// from..to inclusive.
func LoadCostRecords(ctx context.Context, s VariableStore, ns string, from, to time.Time) ([]CostRecord, error) {
	lo, hi := from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)
	return loadRecords[CostRecord](ctx, s, ns, CostRecordPrefix, "cost records", func(path string) bool {
		if len(path) < len(CostRecordPrefix)+len(time.DateOnly) {
			return false
		}
		date := path[len(path)-len(time.DateOnly):]
		return date >= lo && date <= hi
	})
}

// loadRecords reads every record under prefix that keep accepts (all when
// keep is nil); one deleted between the listing and the read is skipped.
func loadRecords[T any](ctx context.Context, s VariableStore, ns, prefix, what string, keep func(path string) bool) ([]T, error) {
	metas, err := s.Variables(ctx, ns, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	var out []T
	for _, m := range metas {
		if keep != nil && !keep(m.Path) {
			continue
		}
		var r T
		ok, _, err := loadJSON(ctx, s, ns, m.Path, &r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func costPath(pool, date string) string { return CostRecordPrefix + pool + "/" + date }

// loadJSON reads the record at path into v; ok is false when there is
// none. index is the variable's modify index (0 when there is none), what
// a check-and-set write after it passes.
func loadJSON(ctx context.Context, s VariableStore, ns, path string, v any) (ok bool, index uint64, err error) {
	vr, err := s.Variable(ctx, ns, path)
	if err != nil {
		if errors.Is(err, nomad.ErrNotFound) {
			return false, 0, nil
		}
		return false, 0, fmt.Errorf("read %s: %w", path, err)
	}
	raw, ok := vr.Items[recordItem]
	if !ok {
		return false, vr.ModifyIndex, nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, vr.ModifyIndex, fmt.Errorf("variable %s is not an autoscaler record (%v); delete it with `nomad var purge %s` and the autoscaler rewrites it", path, err, path)
	}
	return true, vr.ModifyIndex, nil
}

// saveJSON writes v at path, as a check-and-set against cas (the modify
// index the writer last saw, 0 for "must not exist yet", nomad.NoCAS for
// unconditional), and returns the new modify index. A lost race is
// nomad.ErrConflict.
func saveJSON(ctx context.Context, s VariableStore, ns, path string, v any, cas int64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	out, err := s.PutVariable(ctx, ns, path, map[string]string{recordItem: string(b)}, cas)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return out.ModifyIndex, nil
}
