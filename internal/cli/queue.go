package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
)

func init() {
	register(command{
		name:     "queue",
		synopsis: "List waiting runs in the order Nomad considers them, with what each needs and why it waits",
		run:      runQueue,
	})
}

func runQueue(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "queue", "")
	pool := fs.String("pool", "", "only runs waiting for this Nomad node `pool`")
	asJSON := fs.Bool("json", false, "print the queue as JSON")
	autoscalerNS := fs.String("autoscaler-namespace", "default", "the namespace of the autoscaler's pool records, which say whether a pool is at max_nodes")
	pf := addProjectFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "queue takes no arguments, got %q; choose a pool with -pool", pos)
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
	// The runs of every project hold GPUs, but only the project's wait.
	view, err := query.List(ctx, cl, query.Scope{Namespace: ns, AllProjects: true}, query.Live)
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
	limits := poolLimits(ctx, env, cl, *autoscalerNS)
	var out []queueEntry
	for _, e := range queueOf(queueInput{view: view, nodes: nodes, blocked: blocked, pools: limits, now: time.Now()}) {
		if (*pool == "" || e.NodePool == *pool) && (scope.AllProjects || e.Project == scope.Project) {
			out = append(out, e)
		}
	}
	if *asJSON {
		if out == nil {
			out = []queueEntry{}
		}
		return writeJSON(env, out, "write the queue")
	}
	writeQueue(env.Stdout, out)
	return ExitOK
}

// poolLimits reads the autoscaler's pool records and catalogue, when it
// runs: whether each pool is at its max_nodes. Without them (no
// autoscaler, or a token that may not read them) queue still answers.
func poolLimits(ctx context.Context, env Env, cl *nomad.Client, ns string) map[string]poolLimit {
	out := map[string]poolLimit{}
	recs, err := autoscale.LoadPoolRecords(ctx, cl, ns)
	if err != nil {
		env.Logger.Debug("no autoscaler pool records", "err", err)
		return out
	}
	maxNodes := map[string]int{}
	if cat, ok, err := autoscale.LoadCatalog(ctx, cl, ns); err == nil && ok {
		for _, p := range cat.Pools {
			maxNodes[p.Name] = p.MaxNodes
		}
	}
	for _, r := range recs {
		n := 0
		for state, c := range r.Nodes {
			if state != "down" {
				n += c
			}
		}
		l := poolLimit{NodePool: r.NodePool, MaxNodes: maxNodes[r.Pool], Nodes: n}
		l.AtMax = (l.MaxNodes > 0 && n >= l.MaxNodes) || strings.Contains(r.Last.Reason, "max_nodes") && r.Queued > 0
		out[r.Pool] = l
	}
	return out
}

func writeQueue(w io.Writer, q []queueEntry) {
	if len(q) == 0 {
		fmt.Fprintln(w, "No runs wait.")
		return
	}
	now := time.Now()
	for i := 0; i < len(q); {
		j := i
		for j < len(q) && q[j].NodePool == q[i].NodePool {
			j++
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "pool %s: %s waiting\n", q[i].NodePool, plural(j-i, "run"))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tRUN\tPRIO\tWAITING\tNEEDS\tWHY")
		for _, e := range q[i:j] {
			pos := "-"
			if e.Position > 0 {
				pos = fmt.Sprint(e.Position)
			}
			wait := "-"
			if !e.Submitted.IsZero() {
				wait = shortDuration(now.Sub(e.Submitted))
			}
			prio := "-"
			if e.Priority > 0 {
				prio = fmt.Sprint(e.Priority)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", pos, e.ID, prio, wait, plural(e.GPUs, "GPU"), e.Reason)
		}
		tw.Flush()
		i = j
	}
}
