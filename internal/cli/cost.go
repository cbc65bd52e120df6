package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
)

func init() {
	register(command{name: "cost", synopsis: "Show what autoscaled pools cost: node-hours paid, GPU-hours used, idle remainder, per pool and run", run: runCostCmd})
}

func runCostCmd(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "cost", "")
	since := fs.Duration("since", 24*time.Hour, "how far back to account")
	asJSON := fs.Bool("json", false, "print the figures as JSON (seconds and dollars)")
	pf := addProjectFlags(fs)
	nf := addPoolsNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "cost takes no arguments, got %q\n  Usage: caravan cost [-since 24h] [-json]", pos)
		return ExitUsage
	}
	if *since <= 0 {
		errorf(env, "-since must be positive, e.g. -since 24h")
		return ExitUsage
	}
	c, err := nf.client(env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	to := time.Now()
	from := to.Add(-*since)
	recs, err := autoscale.LoadCostRecords(ctx, c, nf.namespace, from, to)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	rep := query.SumCost(recs, from, to)
	scope, err := pf.scope(env, nomad.AllNamespaces)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	if len(recs) == 0 {
		// No autoscaler keeps cost records here: the runs themselves say
		// what GPU time they held.
		runs, err := query.List(ctx, c, scope, query.Full)
		if err != nil {
			return nomadError(env, err)
		}
		rep = query.CostFromRuns(runs.Rows, from, to, time.Now())
		rep.Project = scope.Project
		return finishCost(ctx, env, c, nf.namespace, scope, costReport{CostReport: rep}, *asJSON)
	}
	if !scope.AllProjects {
		// Pools are shared by every project: their figures stay whole,
		// and the per-run list keeps the project's runs.
		// A run that ran has a record (the controller writes one for every
		// job), so the project's record paths say which runs are its.
		refs, err := c.RecordRefs(ctx, scope.Namespace, nomad.RecordScope{Project: scope.Project})
		if err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
		rep.Project = scope.Project
		rep.Runs = query.OnlyRuns(rep.Runs, refs)
	}
	return finishCost(ctx, env, c, nf.namespace, scope, costReport{CostReport: rep}, *asJSON)
}

// finishCost adds the spot pools' saving and the preemptions' cost to rep
// and prints it.
func finishCost(ctx context.Context, env Env, c *nomad.Client, ns string, scope query.Scope, rep costReport, asJSON bool) int {
	if cat, ok, err := autoscale.LoadCatalog(ctx, c, ns); err == nil && ok {
		rep.Spot = spotSavings(rep.Pools, cat)
	}
	p, err := gatherPreemptions(ctx, c, scope, rep.From, rep.To)
	if err != nil {
		return nomadError(env, err)
	}
	if p.Preemptions > 0 {
		rep.Preempted = p
	}
	if asJSON {
		return writeJSON(env, rep, "encode cost report")
	}
	writeCost(env.Stdout, rep.CostReport)
	writeSpotCost(env.Stdout, rep)
	return ExitOK
}

func writeCost(w io.Writer, rep query.CostReport) {
	fmt.Fprintf(w, "Cost from %s to %s\n\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	if rep.Source == query.CostFromRunsSource {
		writeRunsCost(w, rep)
		return
	}
	if len(rep.Pools) == 0 {
		fmt.Fprintln(w, "No cost records in this window: `caravan autoscale` writes them while it runs.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POOL\tNODE-HOURS PAID\tGPU-HOURS PAID\tGPU-HOURS USED\tGPU-HOURS IDLE\tUSED\tCOST\t")
	var total autoscale.CostFigures
	for _, p := range rep.Pools {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f%%\t$%.2f\t\n", p.Pool, p.NodeSeconds/3600, p.GPUSeconds/3600,
			p.AllocatedGPUSeconds/3600, p.IdleGPUSeconds/3600, 100*p.Utilisation, p.Dollars)
		total.Add(autoscale.CostFigures{NodeSeconds: p.NodeSeconds, GPUSeconds: p.GPUSeconds, AllocatedGPUSeconds: p.AllocatedGPUSeconds, Dollars: p.Dollars})
	}
	if len(rep.Pools) > 1 {
		fmt.Fprintf(tw, "total\t%.2f\t%.2f\t%.2f\t%.2f\t\t$%.2f\t\n", total.NodeSeconds/3600, total.GPUSeconds/3600,
			total.AllocatedGPUSeconds/3600, total.IdleGPUSeconds()/3600, total.Dollars)
	}
	tw.Flush()
	if len(rep.Runs) == 0 {
		return
	}
	writeRunCosts(w, rep)
	if rep.RunsApproximate {
		fmt.Fprintln(w, "\nPer-run figures cover whole days: the window starts mid-day.")
	}
}
