package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// Policies are the policy names Compare reports, in order.
var Policies = []string{"caravan", "static_peak", "baseline", "reactive"}

// Options tune the comparison policies.
type Options struct {
	// Caravan is the policy measured as "caravan"; the zero value means
	// decide.DefaultPolicy().
	Caravan *decide.Policy
	// BaselineInterval, BaselineCooldown and BaselineTarget configure the
	// nomad-autoscaler-like baseline (defaults 10s, 5m, 0.8).
	BaselineInterval time.Duration
	BaselineCooldown time.Duration
	BaselineTarget   float64
	// CheckpointOverhead makes every single-node job checkpointable with
	// this grace (Config.CheckpointOverhead); zero moves nothing.
	CheckpointOverhead time.Duration
	// Spot gives each pool a spot twin (Config.Spot) for the jobs that
	// checkpoint (ComparePools), and replays each policy also on
	// on-demand machines alone to compare.
	Spot *Spot
}

// Run replays jobs (sorted by Submit) through one named policy.
func Run(cfg Config, jobs []Job, policy string, opts Options) (Result, error) {
	if err := validate(cfg); err != nil {
		return Result{}, err
	}
	switch policy {
	case "caravan":
		p := decide.DefaultPolicy()
		if opts.Caravan != nil {
			p = *opts.Caravan
		}
		return simulate(cfg, jobs, &decider{label: policy, policy: p, ps: decide.PoolState{Pool: cfg.Pool}}, 0)
	case "reactive":
		return simulate(cfg, jobs, &decider{label: policy, policy: decide.IdleTimeoutPolicy(), ps: decide.PoolState{Pool: cfg.Pool}}, 0)
	case "static_peak":
		n := peakNodes(jobs, cfg.Pool.GPUsPerNode)
		if cfg.Pool.MaxNodes > 0 {
			n = min(n, cfg.Pool.MaxNodes)
		}
		n = max(n, cfg.Pool.MinNodes)
		return simulate(cfg, jobs, static{}, n)
	case "baseline":
		b := &baseline{
			Interval: opts.BaselineInterval, Cooldown: opts.BaselineCooldown, Target: opts.BaselineTarget,
			min: cfg.Pool.MinNodes, max: cfg.Pool.MaxNodes, prefix: cfg.Pool.Name + "-",
		}
		if b.Interval <= 0 {
			b.Interval = 10 * time.Second
		}
		if b.Cooldown <= 0 {
			b.Cooldown = 5 * time.Minute
		}
		if b.Target <= 0 || b.Target > 1 {
			b.Target = 0.8
		}
		return simulate(cfg, jobs, b, 0)
	}
	return Result{}, fmt.Errorf("unknown policy %q: want one of %v", policy, Policies)
}

// Compare runs every policy of Policies over the same trace. Replays share
// nothing but the read-only jobs, so they run side by side.
func Compare(cfg Config, jobs []Job, opts Options) ([]Result, error) {
	out := make([]Result, len(Policies))
	errs := make([]error, len(Policies))
	var wg sync.WaitGroup
	for i, p := range Policies {
		wg.Go(func() {
			out[i], errs[i] = Run(cfg, jobs, p, opts)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", Policies[i], err)
		}
	}
	return out, nil
}
