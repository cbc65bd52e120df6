package cli

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
)

// costFromRunsSource is costReport.Source for figures from the runs.
const costFromRunsSource = "runs"

// costFromRuns is cost without an autoscaler: the GPU time each run held
// in [from, to] (its outcome's, for every attempt, when it ran wholly in
// the window; else its latest attempt's overlap with it, times its GPUs),
// priced at its pool's price per GPU when the run's record knows one. It
// is pure.
func costFromRuns(rows []query.Run, from, to, now time.Time) costReport {
	rep := costReport{From: from.UTC(), To: to.UTC(), Pools: []poolCost{}, Runs: []runCost{}, Source: costFromRunsSource}
	pools := map[string]*poolCost{}
	for _, r := range rows {
		s := gpuSecondsIn(r, from, to, now)
		if s <= 0 {
			continue
		}
		rc := runCost{Run: r.ID, Pool: r.Pool, GPUSeconds: s}
		if r.PricePerHour > 0 && r.GPUsPerNode > 0 {
			rc.Dollars = s * r.PricePerHour / float64(r.GPUsPerNode) / 3600
		}
		rep.Runs = append(rep.Runs, rc)
		p := pools[r.Pool]
		if p == nil {
			p = &poolCost{Pool: r.Pool}
			pools[r.Pool] = p
		}
		p.AllocatedGPUSeconds += s
		p.Dollars += rc.Dollars
	}
	for _, p := range pools {
		rep.Pools = append(rep.Pools, *p)
	}
	sort.Slice(rep.Pools, func(i, j int) bool { return rep.Pools[i].Pool < rep.Pools[j].Pool })
	sort.Slice(rep.Runs, func(i, j int) bool {
		if rep.Runs[i].GPUSeconds != rep.Runs[j].GPUSeconds {
			return rep.Runs[i].GPUSeconds > rep.Runs[j].GPUSeconds
		}
		return rep.Runs[i].Run < rep.Runs[j].Run
	})
	return rep
}

// gpuSecondsIn is the GPU time run r held within [from, to].
func gpuSecondsIn(r query.Run, from, to, now time.Time) float64 {
	if r.Started.IsZero() || r.GPUs == 0 {
		return 0
	}
	end := r.Finished
	if end.IsZero() || !r.State.Terminal() {
		end = now
	}
	if r.GPUSeconds > 0 && !r.Started.Before(from) && !end.After(to) {
		return r.GPUSeconds
	}
	lo, hi := r.Started, end
	if lo.Before(from) {
		lo = from
	}
	if hi.After(to) {
		hi = to
	}
	if !hi.After(lo) {
		return 0
	}
	return hi.Sub(lo).Seconds() * float64(r.GPUs)
}

// writeRunsCost prints cost figures that come from the runs: GPU-hours
// used per pool and per run, with what they cost where the pool's price is
// known; what the nodes cost is known only where caravan autoscale runs.
func writeRunsCost(w io.Writer, rep costReport) {
	if len(rep.Runs) == 0 {
		fmt.Fprintln(w, "No run held a GPU in this window.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POOL\tGPU-HOURS USED\tCOST\t")
	for _, p := range rep.Pools {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t\n", p.Pool, p.AllocatedGPUSeconds/3600, dollars(p.Dollars))
	}
	tw.Flush()
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
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t\n", r.Run, r.Pool, r.GPUSeconds/3600, dollars(r.Dollars))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nGPU-hours the runs held, from their records; a cost is the pool's price per GPU when the pool has one. What the nodes cost, idle time included, is known where `caravan autoscale` runs the pools.")
}

func dollars(d float64) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("$%.2f", d)
}
