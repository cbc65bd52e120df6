package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/caravan-ml/caravan/internal/query"
)

// writeRunsCost prints cost figures that come from the runs: GPU-hours
// used per pool and per run, with what they cost where the pool's price is
// known; what the nodes cost is known only where caravan autoscale runs.
func writeRunsCost(w io.Writer, rep query.CostReport) {
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
	writeRunCosts(w, rep)
	fmt.Fprintln(w, "\nGPU-hours the runs held, from their records; a cost is the pool's price per GPU when the pool has one. What the nodes cost, idle time included, is known where `caravan autoscale` runs the pools.")
}

// writeRunCosts prints the runs' GPU time and cost, twenty at most.
func writeRunCosts(w io.Writer, rep query.CostReport) {
	fmt.Fprintln(w)
	if rep.Project != "" {
		fmt.Fprintf(w, "Runs of project %s:\n", rep.Project)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RUN\tPOOL\tGPU-HOURS\tCOST\t")
	for i, r := range rep.Runs {
		if i == 20 {
			fmt.Fprintf(tw, "(%d more; -json lists all)\t\t\t\t\n", len(rep.Runs)-20)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t\n", r.Run, r.Pool, r.GPUSeconds/3600, dollars(r.Dollars))
	}
	tw.Flush()
}

// dollars is a cost, or "-" where none is known.
func dollars(d float64) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("$%.2f", d)
}
