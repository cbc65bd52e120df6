package cli

import (
	"context"
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

func runSimulate(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "simulate", "-trace FILE [-pools FILE]")
	trace := fs.String("trace", "", "workload trace `FILE`: ITP CSV (job_id,submission_time,duration,num_gpu) or submit,duration,gpus[,pool]")
	poolsFile := fs.String("pools", "", "HCL `FILE` declaring the pools (default: one pool named \"gpu\" built from the flags below)")
	poolName := fs.String("pool", "", "pool `NAME` for jobs whose trace row names none, or NAME,NAME,... to right-size them: each goes to the smallest of these pools whose node holds it, as an experiment's pools = [...] does (default: the only pool declared, or all of them)")
	asJSON := fs.Bool("json", false, "print one JSON object with the figures of every policy")
	boot := fs.Duration("boot", 3*time.Minute, "delay from asking for a machine to its node being ready")
	idle := fs.Duration("idle", 0, "override every pool's idle_timeout (default: the pool's, or 10m)")
	minIdle := fs.Duration("min-idle", 0, "override every pool's min_idle (default: the pool's, or 1m; = -idle gives the classic rule)")
	gpn := fs.Int("gpus-per-node", 0, "override every pool's gpus_per_node (default: the pool's, or 8)")
	minNodes := fs.Int("min-nodes", -1, "override every pool's min_nodes (negative: keep the pool's)")
	maxNodes := fs.Int("max-nodes", -1, "override every pool's max_nodes (0: no limit; negative: keep the pool's)")
	price := fs.Float64("price", -1, "override every pool's price_per_hour (negative: keep the pool's)")
	warm := fs.Float64("warm-fraction", 0, "caravan: keep free GPUs on live nodes for this fraction (0-1) of the recent peak of busy GPUs; shows what a warm buffer costs and saves (default 0: none)")
	bTarget := fs.Float64("baseline-target", 0.8, "baseline: target GPU utilisation (0-1)")
	bCool := fs.Duration("baseline-cooldown", 5*time.Minute, "baseline: cooldown after a scaling action")
	bInt := fs.Duration("baseline-interval", 10*time.Second, "baseline: evaluation interval")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if *trace == "" && len(pos) == 1 {
		*trace = pos[0]
	} else if len(pos) > 0 {
		errorf(env, "unexpected arguments %q\n  Pass the trace with -trace FILE.", pos)
		return ExitUsage
	}
	if *trace == "" {
		errorf(env, "no trace given\n  Pass -trace FILE (e.g. -trace traces/itp/cluster01.csv).")
		return ExitUsage
	}

	pools := map[string]*spec.Pool{}
	if *poolsFile != "" {
		// A file of the operator's pools directory, terraform blocks and
		// all.
		cat, diags := spec.LoadPoolFiles(ctx, filepath.Dir(*poolsFile), []string{filepath.Base(*poolsFile)}, spec.LoadOptions{})
		if diags.HasErrors() {
			writeDiags(env, cat.Files, diags, false)
			return ExitError
		}
		for n, p := range cat.Pools {
			if p.Declared {
				cp := *p
				pools[n] = &cp
			}
		}
		if len(pools) == 0 {
			errorf(env, "%s declares no pool\n  Add a pool \"NAME\" { gpus_per_node = 8 ... } block.", *poolsFile)
			return ExitError
		}
	} else {
		pools["gpu"] = &spec.Pool{Name: "gpu", NodePool: "gpu", GPUsPerNode: 8, IdleTimeout: spec.DefaultPoolIdleTimeout, BootTimeout: spec.DefaultPoolBootTimeout, MinIdle: spec.DefaultPoolMinIdle}
	}
	for _, p := range pools {
		if *gpn > 0 {
			p.GPUsPerNode = *gpn
		}
		if p.GPUsPerNode <= 0 {
			p.GPUsPerNode = 8
		}
		if *idle > 0 {
			p.IdleTimeout = *idle
		}
		if *minIdle > 0 {
			p.MinIdle = *minIdle
		}
		if p.IdleTimeout <= 0 {
			p.IdleTimeout = 10 * time.Minute
		}
		// As in HCL: a min_idle above idle_timeout is a mistake, not a
		// silent switch to the classic rule.
		if *minIdle > p.IdleTimeout {
			errorf(env, "-min-idle %s is longer than pool %q's idle_timeout %s, which is the longest an empty node is kept\n  Lower -min-idle, or pass -min-idle equal to -idle for the classic rule.", *minIdle, p.Name, p.IdleTimeout)
			return ExitUsage
		}
		if *minNodes >= 0 {
			p.MinNodes = *minNodes
		}
		if *maxNodes >= 0 {
			p.MaxNodes = *maxNodes
		}
		if *price >= 0 {
			p.PricePerHour = *price
		}
	}
	var cands []*spec.Pool
	if *poolName == "" {
		for _, n := range slices.Sorted(maps.Keys(pools)) {
			cands = append(cands, pools[n])
		}
	} else {
		for _, n := range strings.Split(*poolName, ",") {
			p, ok := pools[strings.TrimSpace(n)]
			if !ok {
				errorf(env, "pool %q is not declared\n  Declared pools: %s.", n, strings.Join(slices.Sorted(maps.Keys(pools)), ", "))
				return ExitUsage
			}
			cands = append(cands, p)
		}
	}

	f, err := os.Open(*trace)
	if err != nil {
		errorf(env, "cannot open trace: %v\n  Pass an existing CSV file with -trace.", err)
		return ExitError
	}
	jobs, err := sim.ReadTrace(f)
	f.Close()
	if err != nil {
		errorf(env, "%s: %v", *trace, err)
		return ExitError
	}
	sim.Route(jobs, cands)
	if *warm < 0 || *warm > 1 {
		errorf(env, "-warm-fraction %g is not between 0 and 1\n  Pass e.g. -warm-fraction 0.05 to keep free GPUs for 5%% of recent peak demand.", *warm)
		return ExitUsage
	}
	policy := decide.DefaultPolicy()
	policy.WarmFraction = *warm
	rep, err := sim.ComparePools(pools, "", jobs, *boot, sim.Options{
		Caravan:        &policy,
		BaselineTarget: *bTarget, BaselineCooldown: *bCool, BaselineInterval: *bInt,
	})
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	if *asJSON {
		return writeJSON(env, rep.JSON(), "writing JSON")
	}
	fmt.Fprintf(env.Stdout, "trace %s: ", *trace)
	if err := rep.WriteTable(env.Stdout); err != nil {
		errorf(env, "writing table: %v", err)
		return ExitError
	}
	return ExitOK
}
