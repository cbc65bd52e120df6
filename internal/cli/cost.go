package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{name: "cost", synopsis: "Show what autoscaled pools cost: node-hours paid, GPU-hours used, idle remainder, per pool and run", run: runCostCmd})
}

// costReport is `caravan cost -json`: figures in base units (seconds,
// dollars) over [From, To].
type costReport struct {
	From  time.Time  `json:"from"`
	To    time.Time  `json:"to"`
	Pools []poolCost `json:"pools"`
	Runs  []runCost  `json:"runs"`
	// RunsApproximate: per-run figures are kept per day, so a window
	// that starts mid-day counts the whole of that day's run time.
	RunsApproximate bool `json:"runs_approximate"`
	// Project, when set, is the project whose runs Runs lists; Pools
	// are every project's.
	Project string `json:"project,omitempty"`
	// Source says where the figures come from: "autoscaler" (its hourly
	// cost records: node-hours paid and GPU-hours used) or "runs" (the
	// runs' records and jobs, where no autoscaler keeps cost records:
	// GPU-hours used only; nothing says what the nodes cost).
	Source string `json:"source"`
	// Spot prices the spot pools against their on-demand spot_fallback;
	// Preempted is what preemptions cost the runs (from their moves).
	Spot      []spotCost      `json:"spot,omitempty"`
	Preempted *preemptionCost `json:"preempted,omitempty"`
}

// onlyRuns keeps the cost rows of the runs whose records are listed.
func onlyRuns(costs []runCost, refs []record.Ref) []runCost {
	keep := make(map[string]bool, len(refs))
	for _, r := range refs {
		keep[r.RunID] = true
	}
	out := costs[:0]
	for _, c := range costs {
		if keep[c.Run] {
			out = append(out, c)
		}
	}
	return out
}

type poolCost struct {
	Pool                string  `json:"pool"`
	NodeSeconds         float64 `json:"node_seconds"`
	GPUSeconds          float64 `json:"gpu_seconds"`
	AllocatedGPUSeconds float64 `json:"allocated_gpu_seconds"`
	IdleGPUSeconds      float64 `json:"idle_gpu_seconds"`
	Dollars             float64 `json:"dollars"`
	Utilisation         float64 `json:"utilisation"` // allocated / paid GPU time, 0-1
}

type runCost struct {
	Run        string  `json:"run"`
	Pool       string  `json:"pool"`
	GPUSeconds float64 `json:"gpu_seconds"`
	Dollars    float64 `json:"dollars"` // GPU time × the pool's price per GPU
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
	rep := sumCost(recs, from, to)
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
		rep = costFromRuns(runs.Rows, from, to, time.Now())
		rep.Project = scope.Project
		return finishCost(ctx, env, c, nf.namespace, scope, rep, *asJSON)
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
		rep.Runs = onlyRuns(rep.Runs, refs)
	}
	return finishCost(ctx, env, c, nf.namespace, scope, rep, *asJSON)
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
	writeCost(env.Stdout, rep)
	writeSpotCost(env.Stdout, rep)
	return ExitOK
}

// sumCost adds up the hourly figures of the hours that overlap [from, to],
// and the per-run figures of the days that do.
func sumCost(recs []autoscale.CostRecord, from, to time.Time) costReport {
	rep := costReport{From: from.UTC(), To: to.UTC(), Pools: []poolCost{}, Runs: []runCost{}, Source: "autoscaler"}
	pools := map[string]*autoscale.CostFigures{}
	runs := map[[2]string]*runCost{}
	for _, r := range recs {
		day, err := time.Parse(time.DateOnly, r.Date)
		if err != nil {
			continue
		}
		f := pools[r.Pool]
		if f == nil {
			f = &autoscale.CostFigures{}
			pools[r.Pool] = f
		}
		for h, hf := range r.Hours {
			start := day.Add(time.Duration(h) * time.Hour)
			if start.Add(time.Hour).After(from) && start.Before(to) {
				f.Add(hf)
			}
		}
		if day.Before(from.UTC().Truncate(24 * time.Hour)) {
			continue
		}
		if day.Before(from.UTC()) {
			rep.RunsApproximate = true
		}
		perGPU := 0.0
		if r.GPUsPerNode > 0 {
			perGPU = r.Price / float64(r.GPUsPerNode) / 3600
		}
		for run, s := range r.RunGPUSeconds {
			k := [2]string{r.Pool, run}
			rc := runs[k]
			if rc == nil {
				rc = &runCost{Run: run, Pool: r.Pool}
				runs[k] = rc
			}
			rc.GPUSeconds += s
			rc.Dollars += s * perGPU
		}
	}
	for name, f := range pools {
		pc := poolCost{Pool: name, NodeSeconds: f.NodeSeconds, GPUSeconds: f.GPUSeconds,
			AllocatedGPUSeconds: f.AllocatedGPUSeconds, IdleGPUSeconds: f.IdleGPUSeconds(), Dollars: f.Dollars}
		if f.GPUSeconds > 0 {
			pc.Utilisation = f.AllocatedGPUSeconds / f.GPUSeconds
		}
		rep.Pools = append(rep.Pools, pc)
	}
	sort.Slice(rep.Pools, func(i, j int) bool { return rep.Pools[i].Pool < rep.Pools[j].Pool })
	for _, rc := range runs {
		rep.Runs = append(rep.Runs, *rc)
	}
	sort.Slice(rep.Runs, func(i, j int) bool {
		if rep.Runs[i].Dollars != rep.Runs[j].Dollars {
			return rep.Runs[i].Dollars > rep.Runs[j].Dollars
		}
		return rep.Runs[i].Run < rep.Runs[j].Run
	})
	return rep
}

func writeCost(w io.Writer, rep costReport) {
	fmt.Fprintf(w, "Cost from %s to %s\n\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	if rep.Source == costFromRunsSource {
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
	fmt.Fprintln(w)
	if rep.Project != "" {
		fmt.Fprintf(w, "Runs of project %s:\n", rep.Project)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RUN\tPOOL\tGPU-HOURS\tCOST\t")
	for i, r := range rep.Runs {
		if i == 20 {
			fmt.Fprintf(tw, "(%d more; -json lists all)\t\t\t\t\n", len(rep.Runs)-20)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t$%.2f\t\n", r.Run, r.Pool, r.GPUSeconds/3600, r.Dollars)
	}
	tw.Flush()
	if rep.RunsApproximate {
		fmt.Fprintln(w, "\nPer-run figures cover whole days: the window starts mid-day.")
	}
}
