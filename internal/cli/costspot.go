package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// costReport is `caravan cost -json`: the pools' and runs' figures, with
// what the spot pools saved and what preemptions cost beside them.
type costReport struct {
	query.CostReport
	// Spot prices the spot pools against their on-demand spot_fallback;
	// Preempted is what preemptions cost the runs (from their moves).
	Spot      []spotCost      `json:"spot,omitempty"`
	Preempted *preemptionCost `json:"preempted,omitempty"`
}

// spotCost is what a spot pool's GPU time cost against the same time on
// its on-demand spot_fallback, at that pool's price per GPU.
type spotCost struct {
	Pool            string  `json:"pool"`
	OnDemandPool    string  `json:"on_demand_pool,omitempty"`
	GPUSeconds      float64 `json:"gpu_seconds"`
	Dollars         float64 `json:"dollars"`
	OnDemandDollars float64 `json:"on_demand_dollars,omitempty"`
	SavingDollars   float64 `json:"saving_dollars,omitempty"`
}

// preemptionCost is the GPU time preemptions cost the runs in the window,
// from their moves: the old allocation's GPUs from the notice until it
// stopped, and the replacement's until it started (record.MoveCost).
type preemptionCost struct {
	Preemptions int     `json:"preemptions"`
	GPUSeconds  float64 `json:"lost_gpu_seconds"`
	// Unpriced counts moves not over yet, or whose allocations Nomad no
	// longer has: their GPU time is not in GPUSeconds.
	Unpriced int `json:"unpriced,omitempty"`
}

// spotSavings prices the spot pools of cat in pools against their
// fallbacks; a spot pool without a priced fallback shows its cost alone.
func spotSavings(pools []query.PoolCost, cat *spec.Catalog) []spotCost {
	if cat == nil {
		return nil
	}
	var out []spotCost
	for _, pc := range pools {
		p := cat.Pools[pc.Pool]
		if p == nil || !p.Spot {
			continue
		}
		sc := spotCost{Pool: pc.Pool, GPUSeconds: pc.GPUSeconds, Dollars: pc.Dollars}
		if fb := cat.Pools[p.SpotFallback]; fb != nil && fb.GPUsPerNode > 0 && fb.PricePerHour > 0 {
			sc.OnDemandPool = fb.Name
			sc.OnDemandDollars = pc.GPUSeconds * fb.PricePerHour / float64(fb.GPUsPerNode) / 3600
			sc.SavingDollars = sc.OnDemandDollars - sc.Dollars
		}
		out = append(out, sc)
	}
	return out
}

// preemptionLoss adds up the preemption moves made in [from, to], priced
// from each run's allocations.
func preemptionLoss(moves map[record.Ref][]record.Move, allocs map[record.Ref][]record.AllocTimes, from, to time.Time) *preemptionCost {
	out := &preemptionCost{}
	for ref, ms := range moves {
		for _, m := range ms {
			if m.By != record.MovedByPreemption || m.At.Before(from) || m.At.After(to) {
				continue
			}
			out.Preemptions++
			if s, ok := record.MoveCost(m, allocs[ref]); ok {
				out.GPUSeconds += s
			} else {
				out.Unpriced++
			}
		}
	}
	return out
}

// allocTimesOf turns a job's allocation stubs into what MoveCost reads. A
// stub does not say which allocation it replaced: the first one created
// after a move replaced the allocation the move left.
func allocTimesOf(stubs []*api.AllocationListStub, moves []record.Move) []record.AllocTimes {
	out := make([]record.AllocTimes, 0, len(stubs))
	for _, s := range stubs {
		at := record.AllocTimes{ID: s.ID, Created: time.Unix(0, s.CreateTime)}
		for _, ts := range s.TaskStates {
			if ts != nil && !ts.StartedAt.IsZero() && (at.Started.IsZero() || ts.StartedAt.Before(at.Started)) {
				at.Started = ts.StartedAt
			}
			if ts != nil && ts.FinishedAt.After(at.Finished) {
				at.Finished = ts.FinishedAt
			}
		}
		out = append(out, at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	for _, m := range moves {
		for i := range out {
			if out[i].ID != m.FromAlloc && out[i].Previous == "" && !out[i].Created.Before(m.At) {
				out[i].Previous = m.FromAlloc
				break
			}
		}
	}
	return out
}

// movesSource is what gatherPreemptions reads of Nomad.
type movesSource interface {
	VariablesEndingIn(ctx context.Context, namespace, prefix, suffix string) ([]*api.VariableMetadata, error)
	Moves(ctx context.Context, ref record.Ref) ([]record.Move, uint64, error)
	JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error)
}

// gatherPreemptions reads the moves of the runs in scope that have any,
// and the allocations of those a preemption moved.
func gatherPreemptions(ctx context.Context, c movesSource, scope query.Scope, from, to time.Time) (*preemptionCost, error) {
	prefixes := []string{record.ProjectPrefix(scope.Project)}
	if scope.AllProjects {
		prefixes = []string{record.RunsPrefix, record.ProjectsPrefix}
	}
	moves := map[record.Ref][]record.Move{}
	allocs := map[record.Ref][]record.AllocTimes{}
	for _, prefix := range prefixes {
		metas, err := c.VariablesEndingIn(ctx, scope.Namespace, prefix, record.MovesSuffix)
		if err != nil {
			return nil, err
		}
		for _, m := range metas {
			path, ok := strings.CutSuffix(m.Path, record.MovesSuffix)
			project, run, isRun := record.ParsePath(path)
			if !ok || !isRun {
				continue
			}
			ref := record.Ref{Namespace: m.Namespace, Project: project, RunID: run}
			ms, _, err := c.Moves(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("read the moves of run %s: %w", run, err)
			}
			if !preemptedIn(ms, from, to) {
				continue
			}
			moves[ref] = ms
			stubs, err := c.JobAllocations(ctx, ref.Namespace, run)
			if err != nil && !errors.Is(err, nomad.ErrNotFound) {
				return nil, fmt.Errorf("read the allocations of run %s: %w", run, err)
			}
			allocs[ref] = allocTimesOf(stubs, ms)
		}
	}
	return preemptionLoss(moves, allocs, from, to), nil
}

// preemptedIn reports whether any of ms is a preemption in [from, to].
func preemptedIn(ms []record.Move, from, to time.Time) bool {
	for _, m := range ms {
		if m.By == record.MovedByPreemption && !m.At.Before(from) && !m.At.After(to) {
			return true
		}
	}
	return false
}

// writeSpotCost prints the spot pools' saving and what preemptions cost.
func writeSpotCost(w io.Writer, rep costReport) {
	if len(rep.Spot) == 0 && rep.Preempted == nil {
		return
	}
	fmt.Fprintln(w)
	for _, s := range rep.Spot {
		if s.OnDemandPool == "" {
			fmt.Fprintf(w, "Spot pool %s: %.2f GPU-hours for $%.2f (no priced spot_fallback to compare with)\n", s.Pool, s.GPUSeconds/3600, s.Dollars)
			continue
		}
		fmt.Fprintf(w, "Spot pool %s: %.2f GPU-hours for $%.2f, $%.2f on %s: saved $%.2f\n", s.Pool, s.GPUSeconds/3600, s.Dollars, s.OnDemandDollars, s.OnDemandPool, s.SavingDollars)
	}
	if p := rep.Preempted; p != nil && p.Preemptions > 0 {
		fmt.Fprintf(w, "Preemptions: %d runs moved, %.2f GPU-hours lost", p.Preemptions, p.GPUSeconds/3600)
		if p.Unpriced > 0 {
			fmt.Fprintf(w, " (%d moves not priced: not over, or their allocations are gone)", p.Unpriced)
		}
		fmt.Fprintln(w)
	}
}
