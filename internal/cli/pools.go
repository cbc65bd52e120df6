package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
)

func init() {
	register(command{name: "pools", synopsis: "Show autoscaled pools: nodes, GPUs, queued demand, last decision and why, spend today", run: runPools})
}

func runPools(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "pools", "")
	asJSON := fs.Bool("json", false, "print the pool records as JSON")
	nf := addPoolsNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "pools takes no arguments, got %q\n  Usage: caravan pools [-json]", pos)
		return ExitUsage
	}
	c, err := nf.client(env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	recs, err := autoscale.LoadPoolRecords(ctx, c, nf.namespace)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Pool < recs[j].Pool })
	if len(recs) == 0 {
		// No autoscaler runs here: Nomad and the runs' records still say
		// what each pool holds and used.
		rows, err := poolsFromCluster(ctx, c, time.Now())
		if err != nil {
			return nomadError(env, err)
		}
		if *asJSON {
			if rows == nil {
				rows = []poolRow{}
			}
			return writeJSON(env, rows, "encode pools")
		}
		writePoolRows(env.Stdout, rows)
		return ExitOK
	}
	if *asJSON {
		if recs == nil {
			recs = []autoscale.PoolRecord{}
		}
		return writeJSON(env, recs, "encode pool records")
	}
	writePools(env.Stdout, recs, time.Now())
	return ExitOK
}

// writePools prints the pool table, then each pool's decision detail.
func writePools(w io.Writer, recs []autoscale.PoolRecord, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tNODE POOL\tREADY\tCORDONED\tDRAINING\tBOOTING\tDOWN\tGPUS BUSY/FREE\tQUEUED\tSPEND TODAY")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%s\t$%.2f\n", r.Pool, r.NodePool,
			r.Nodes["ready"], r.Nodes["cordoned"], r.Nodes["draining"], r.Nodes["booting"]+r.Nodes["initializing"], r.Nodes["down"],
			r.GPUsBusy, r.GPUsFree, queued(r), r.SpendToday)
	}
	tw.Flush()
	for _, r := range recs {
		fmt.Fprintf(w, "\n%s:\n", r.Pool)
		if r.Last.Time.IsZero() {
			fmt.Fprintln(w, "  last decision: none yet")
		} else {
			fmt.Fprintf(w, "  last decision: %s (%s ago): %s\n", r.Last.Time.UTC().Format(time.RFC3339), ago(now, r.Last.Time), r.Last.Reason)
			for _, a := range r.Last.Actions {
				fmt.Fprintf(w, "    %s %s\n", a.Kind, strings.Join(a.Nodes, ", "))
			}
		}
		switch {
		case r.Next != "" && !r.NextAt.IsZero():
			fmt.Fprintf(w, "  next: %s at %s\n", r.Next, r.NextAt.UTC().Format(time.RFC3339))
		case r.Next != "":
			fmt.Fprintf(w, "  next: %s\n", r.Next)
		default:
			fmt.Fprintln(w, "  next: nothing planned; waiting for demand")
		}
		fmt.Fprintf(w, "  terraform state: %s\n", orNone(r.InState))
		if r.Terraform.LastError != "" {
			fmt.Fprintf(w, "  terraform failing (%d in a row): %s\n", r.Terraform.Failures, r.Terraform.LastError)
		}
		if len(r.Blocked) > 0 {
			keys := make([]string, 0, len(r.Blocked))
			for k := range r.Blocked {
				keys = append(keys, fmt.Sprintf("%s (%d)", k, r.Blocked[k]))
			}
			sort.Strings(keys)
			fmt.Fprintf(w, "  Nomad says: %s\n", strings.Join(keys, ", "))
		}
		if r.Unschedulable > 0 {
			fmt.Fprintf(w, "  %d queued run(s) can never fit one node of this pool; resize the runs or the pool's machines\n", r.Unschedulable)
		}
		if len(r.Foreign) > 0 {
			fmt.Fprintf(w, "  not managed by caravan (left alone): %s\n", strings.Join(r.Foreign, ", "))
		}
		if len(r.Misplaced) > 0 {
			parts := make([]string, 0, len(r.Misplaced))
			for _, m := range r.Misplaced {
				parts = append(parts, fmt.Sprintf("%s (in %s, %d allocation(s))", m.Name, m.NodePool, m.Allocs))
			}
			fmt.Fprintf(w, "  registered with another node pool, kept and not counted (make the module use node_pool %s, then drain them in Nomad and caravan removes them): %s\n",
				r.NodePool, strings.Join(parts, ", "))
		}
		if age := now.Sub(r.Updated); age > 2*time.Minute {
			fmt.Fprintf(w, "  record is %s old: is `caravan autoscale` running?\n", age.Round(time.Second))
		}
	}
}

func queued(r autoscale.PoolRecord) string {
	if r.Queued == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%d GPUs)", r.Queued, r.QueuedGPUs)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(no nodes)"
	}
	return strings.Join(s, ", ")
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}
