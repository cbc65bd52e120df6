package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
)

func init() {
	register(command{
		name:     "status",
		synopsis: "Show the queues per pool: waiting and running runs, GPUs, nodes, and why runs wait",
		run:      runStatus,
	})
}

// maxGatedShown bounds the waiting runs status names per pool.
const maxGatedShown = 5

func runStatus(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "status", "")
	asJSON := fs.Bool("json", false, "print the pools as JSON")
	pf := addProjectFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "status takes no arguments, got %q", pos)
		return ExitUsage
	}
	cl, ns, code, ok := nf.reader(ctx, env)
	if !ok {
		return code
	}
	scope, err := pf.scope(env, ns)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	view, err := query.List(ctx, cl, scope, query.Live)
	if err != nil {
		return nomadError(env, err)
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		return nomadError(env, err)
	}
	blocked, err := cl.BlockedEvaluations(ctx, ns)
	if err != nil {
		return nomadError(env, err)
	}
	pools := query.Pools(view, nodes, blocked, time.Now())
	if *asJSON {
		return writeJSON(env, pools, "write status")
	}
	writeStatus(env.Stdout, pools)
	return ExitOK
}

func writeStatus(w io.Writer, pools []*query.Pool) {
	if len(pools) == 0 {
		fmt.Fprintln(w, "No node pools with nodes or runs.")
		return
	}
	for i, p := range pools {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := "pool " + p.NodePool
		if len(p.Pools) > 0 && !(len(p.Pools) == 1 && p.Pools[0] == p.NodePool) {
			head += " (caravan pools: " + strings.Join(p.Pools, ", ") + ")"
		}
		fmt.Fprintln(w, head)
		fmt.Fprintf(w, "  queued:   %s waiting for %s\n", plural(p.Queued, "run"), plural(p.QueuedGPUs, "GPU"))
		if p.OldestID != "" {
			fmt.Fprintf(w, "  oldest:   %s, waiting %s\n", p.OldestID, shortDuration(p.OldestWait))
		}
		if len(p.WaitReasons) > 0 {
			keys := slices.Sorted(maps.Keys(p.WaitReasons))
			sort.SliceStable(keys, func(i, j int) bool { return p.WaitReasons[keys[i]] > p.WaitReasons[keys[j]] })
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s (%s)", k, plural(p.WaitReasons[k], "run"))
			}
			fmt.Fprintf(w, "  why:      %s\n", strings.Join(parts, "; "))
		}
		fmt.Fprintf(w, "  running:  %s holding %s\n", plural(p.Running, "run"), plural(p.RunningGPUs, "GPU"))
		if p.Moving > 0 {
			fmt.Fprintf(w, "  moving:   %s checkpointing to start on another node\n", plural(p.Moving, "run"))
		}
		if len(p.Gated) > 0 {
			fmt.Fprintf(w, "  waiting:  %s for the runs they depend on (no job, no GPU held)\n", plural(len(p.Gated), "run"))
			for i, g := range p.Gated {
				if i == maxGatedShown {
					fmt.Fprintf(w, "            ... and %d more (caravan ls -state waiting)\n", len(p.Gated)-i)
					break
				}
				fmt.Fprintf(w, "            %s %s\n", g.ID, g.Wait)
			}
		}
		nodes := fmt.Sprintf("%d ready, %d draining, %d down", p.NodesReady, p.NodesDrain, p.NodesDown)
		if p.NodesOther > 0 {
			nodes += fmt.Sprintf(", %d other", p.NodesOther)
		}
		fmt.Fprintf(w, "  nodes:    %s; %d of %d GPUs free\n", nodes, p.GPUsFree, p.GPUsTotal)
	}
}
