package cli

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/sim"
	"github.com/caravan-ml/caravan/internal/spec"
)

func init() {
	register(command{
		name:     "simulate",
		synopsis: "Replay a workload trace through the autoscaler and compare policies",
		run:      runSimulate,
	})
}

// simulateFlags are simulate's flags. The pool overrides apply to every
// pool, whether read from -pools or the default one.
type simulateFlags struct {
	trace, poolsFile, poolName string
	asJSON                     bool
	boot, idle, minIdle        time.Duration
	gpn, minNodes, maxNodes    int
	price, warm                float64
	bTarget                    float64
	bCool, bInt                time.Duration
	ckptOverhead               time.Duration
	spotPrice, preemptPerDay   float64
	seed                       uint64
}

func (f *simulateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.trace, "trace", "", "workload trace `FILE`: ITP CSV (job_id,submission_time,duration,num_gpu) or submit,duration,gpus[,pool]")
	fs.StringVar(&f.poolsFile, "pools", "", "HCL `FILE` declaring the pools (default: one pool named \"gpu\" built from the flags below)")
	fs.StringVar(&f.poolName, "pool", "", "pool `NAME` for jobs whose trace row names none, or NAME,NAME,... to right-size them: each goes to the smallest of these pools whose node holds it, as an experiment's pools = [...] does (default: the only pool declared, or all of them)")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object with the figures of every policy")
	fs.DurationVar(&f.boot, "boot", 3*time.Minute, "delay from asking for a machine to its node being ready")
	fs.DurationVar(&f.idle, "idle", 0, "override every pool's idle_timeout (default: the pool's, or 10m)")
	fs.DurationVar(&f.minIdle, "min-idle", 0, "override every pool's min_idle (default: the pool's, or 1m; = -idle gives the classic rule)")
	fs.IntVar(&f.gpn, "gpus-per-node", 0, "override every pool's gpus_per_node (default: the pool's, or 8)")
	fs.IntVar(&f.minNodes, "min-nodes", -1, "override every pool's min_nodes (negative: keep the pool's)")
	fs.IntVar(&f.maxNodes, "max-nodes", -1, "override every pool's max_nodes (0: no limit; negative: keep the pool's)")
	fs.Float64Var(&f.price, "price", -1, "override every pool's price_per_hour (negative: keep the pool's)")
	fs.Float64Var(&f.warm, "warm-fraction", 0, "caravan: keep free GPUs on live nodes for this fraction (0-1) of the recent peak of busy GPUs; shows what a warm buffer costs and saves (default 0: none)")
	fs.DurationVar(&f.ckptOverhead, "checkpoint-overhead", 0, "treat every single-node trace job as checkpointable, with this much GPU time lost per move (e.g. 2m); caravan then moves work to empty nodes (default 0: nothing moves)")
	fs.Float64Var(&f.spotPrice, "spot-price", 0, "add to each pool a spot twin whose machines cost this `FRACTION` (0-1] of the on-demand price; with -checkpoint-overhead the single-node jobs run there and the others stay on demand, and each policy is compared with on-demand machines alone (default 0: no spot)")
	fs.Float64Var(&f.preemptPerDay, "preemptions-per-day", 1, "with -spot-price: mean preemptions of one spot machine per day (exponential times)")
	fs.Uint64Var(&f.seed, "seed", 1, "with -spot-price: seed of the preemption draws (the same seed replays the same preemptions)")
	fs.Float64Var(&f.bTarget, "baseline-target", 0.8, "baseline: target GPU utilisation (0-1)")
	fs.DurationVar(&f.bCool, "baseline-cooldown", 5*time.Minute, "baseline: cooldown after a scaling action")
	fs.DurationVar(&f.bInt, "baseline-interval", 10*time.Second, "baseline: evaluation interval")
}

func runSimulate(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "simulate", "-trace FILE [-pools FILE]")
	var f simulateFlags
	f.register(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if f.trace == "" && len(pos) == 1 {
		f.trace = pos[0]
	} else if len(pos) > 0 {
		errorf(env, "unexpected arguments %q\n  Pass the trace with -trace FILE.", pos)
		return ExitUsage
	}
	if f.trace == "" {
		errorf(env, "no trace given\n  Pass -trace FILE (e.g. -trace traces/itp/cluster01.csv).")
		return ExitUsage
	}

	pools, ok := simulatePools(ctx, env, f.poolsFile)
	if !ok {
		return ExitError
	}
	if !f.overridePools(env, pools) {
		return ExitUsage
	}
	cands, ok := candidatePools(env, pools, f.poolName)
	if !ok {
		return ExitUsage
	}
	jobs, ok := readTraceFile(env, f.trace)
	if !ok {
		return ExitError
	}
	sim.Route(jobs, cands)
	if f.warm < 0 || f.warm > 1 {
		errorf(env, "-warm-fraction %g is not between 0 and 1\n  Pass e.g. -warm-fraction 0.05 to keep free GPUs for 5%% of recent peak demand.", f.warm)
		return ExitUsage
	}
	if f.spotPrice != 0 && f.ckptOverhead <= 0 {
		errorf(env, "-spot-price needs -checkpoint-overhead\n  Only runs that checkpoint go to spot pools (or those whose experiment says spot = \"ok\"); pass e.g. -checkpoint-overhead 2m to treat the trace's single-node jobs as checkpointing.")
		return ExitUsage
	}
	if err := f.spot().Validate(); err != nil {
		errorf(env, "-spot-price %g -preemptions-per-day %g: %v", f.spotPrice, f.preemptPerDay, err)
		return ExitUsage
	}
	policy := decide.DefaultPolicy()
	policy.WarmFraction = f.warm
	rep, err := sim.ComparePools(pools, "", jobs, f.boot, sim.Options{
		Caravan:        &policy,
		BaselineTarget: f.bTarget, BaselineCooldown: f.bCool, BaselineInterval: f.bInt,
		CheckpointOverhead: f.ckptOverhead, Spot: f.spot(),
	})
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	if f.asJSON {
		return writeJSON(env, rep.JSON(), "writing JSON")
	}
	fmt.Fprintf(env.Stdout, "trace %s: ", f.trace)
	if err := rep.WriteTable(env.Stdout); err != nil {
		errorf(env, "writing table: %v", err)
		return ExitError
	}
	return ExitOK
}

// spot is the spot machines the flags ask for; nil for on-demand ones.
func (f *simulateFlags) spot() *sim.Spot {
	if f.spotPrice == 0 {
		return nil
	}
	return &sim.Spot{Price: f.spotPrice, PerDay: f.preemptPerDay, Seed: f.seed}
}

// simulatePools reads the pools declared in poolsFile, a file of the
// operator's pools directory (terraform blocks and all), or without one
// gives the single default pool "gpu".
func simulatePools(ctx context.Context, env Env, poolsFile string) (map[string]*spec.Pool, bool) {
	pools := map[string]*spec.Pool{}
	if poolsFile == "" {
		pools["gpu"] = &spec.Pool{Name: "gpu", NodePool: "gpu", GPUsPerNode: 8, IdleTimeout: spec.DefaultPoolIdleTimeout, BootTimeout: spec.DefaultPoolBootTimeout, MinIdle: spec.DefaultPoolMinIdle}
		return pools, true
	}
	cat, diags := spec.LoadPoolFiles(ctx, filepath.Dir(poolsFile), []string{filepath.Base(poolsFile)}, spec.LoadOptions{})
	if diags.HasErrors() {
		writeDiags(env, cat.Files, diags, false)
		return nil, false
	}
	for n, p := range cat.Pools {
		if p.Declared {
			cp := *p
			pools[n] = &cp
		}
	}
	if len(pools) == 0 {
		errorf(env, "%s declares no pool\n  Add a pool \"NAME\" { gpus_per_node = 8 ... } block.", poolsFile)
		return nil, false
	}
	return pools, true
}

// overridePools applies the override flags to every pool and fills what a
// pool leaves unset; false means a usage error was reported.
func (f *simulateFlags) overridePools(env Env, pools map[string]*spec.Pool) bool {
	for _, p := range pools {
		if f.gpn > 0 {
			p.GPUsPerNode = f.gpn
		}
		if p.GPUsPerNode <= 0 {
			p.GPUsPerNode = 8
		}
		if f.idle > 0 {
			p.IdleTimeout = f.idle
		}
		if f.minIdle > 0 {
			p.MinIdle = f.minIdle
		}
		if p.IdleTimeout <= 0 {
			p.IdleTimeout = 10 * time.Minute
		}
		// As in HCL: a min_idle above idle_timeout is a mistake, not a
		// silent switch to the classic rule.
		if f.minIdle > p.IdleTimeout {
			errorf(env, "-min-idle %s is longer than pool %q's idle_timeout %s, which is the longest an empty node is kept\n  Lower -min-idle, or pass -min-idle equal to -idle for the classic rule.", f.minIdle, p.Name, p.IdleTimeout)
			return false
		}
		if f.minNodes >= 0 {
			p.MinNodes = f.minNodes
		}
		if f.maxNodes >= 0 {
			p.MaxNodes = f.maxNodes
		}
		if f.price >= 0 {
			p.PricePerHour = f.price
		}
	}
	return true
}

// candidatePools are the pools -pool names, in its order, for the jobs
// whose trace row names no pool; without -pool, every pool in name order.
// False means a usage error was reported.
func candidatePools(env Env, pools map[string]*spec.Pool, poolName string) ([]*spec.Pool, bool) {
	var cands []*spec.Pool
	if poolName == "" {
		for _, n := range slices.Sorted(maps.Keys(pools)) {
			cands = append(cands, pools[n])
		}
		return cands, true
	}
	for _, n := range strings.Split(poolName, ",") {
		p, ok := pools[strings.TrimSpace(n)]
		if !ok {
			errorf(env, "pool %q is not declared\n  Declared pools: %s.", n, strings.Join(slices.Sorted(maps.Keys(pools)), ", "))
			return nil, false
		}
		cands = append(cands, p)
	}
	return cands, true
}

func readTraceFile(env Env, path string) ([]sim.Job, bool) {
	f, err := os.Open(path)
	if err != nil {
		errorf(env, "cannot open trace: %v\n  Pass an existing CSV file with -trace.", err)
		return nil, false
	}
	jobs, err := sim.ReadTrace(f)
	f.Close()
	if err != nil {
		errorf(env, "%s: %v", path, err)
		return nil, false
	}
	return jobs, true
}
