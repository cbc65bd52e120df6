package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/report"
)

func init() {
	register(command{
		name:     "compare",
		synopsis: "Compare runs side by side: params, each metric's last and best value, the best run",
		run:      runCompare,
	})
}

func runCompare(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "compare", "RUN... | -experiment NAME")
	experiment := fs.String("experiment", "", "compare every run of this experiment")
	best := fs.String("best", "", "which way is better, per metric: `name=min,name=max` (default: min for loss-like names such as loss, error, perplexity, mse, time; max for the rest)")
	metric := fs.String("metric", "", "the `metric` that decides the best run and that -png draws (default: the first loss-like metric every run wrote)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	pngFile := fs.String("png", "", "also draw the metric over steps, one line per run, into this PNG `file`")
	pf := addProjectFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if (len(pos) == 0) == (*experiment == "") {
		errorf(env, "compare takes run IDs, or -experiment NAME (see `caravan ls`)")
		return ExitUsage
	}
	goals, err := report.ParseGoals(*best)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	rows, code := compareRows(ctx, env, cl, pf, nf, pos, *experiment)
	if rows == nil {
		return code
	}
	usages, err := query.Usages(ctx, cl, rows)
	if err != nil {
		return nomadError(env, err)
	}
	in := make([]report.CompareInput, len(rows))
	for i, r := range rows {
		in[i] = report.CompareInput{ID: r.ID, Experiment: r.Experiment, State: string(r.State), Params: r.Params, Usage: usages[r.ID]}
	}
	c := report.Compare(in, goals, *metric)
	if *metric != "" && !slices.ContainsFunc(c.Metrics, func(m report.MetricGoal) bool { return m.Name == *metric }) {
		errorf(env, "no run among these wrote metric %q; they wrote: %s", *metric, metricNames(c))
		return ExitError
	}
	orderBest(&c)
	if *pngFile != "" {
		if code := writeComparePNG(env, c, *pngFile); code != ExitOK {
			return code
		}
	}
	if *asJSON {
		return writeJSON(env, c, "encode the comparison")
	}
	writeComparison(env.Stdout, c)
	if *pngFile != "" {
		fmt.Fprintf(env.Stdout, "\nPlot written to %s\n", *pngFile)
	}
	return ExitOK
}

// compareRows lists the runs to compare: every run of the experiment (in
// the project's scope), or the runs named, wherever they are.
func compareRows(ctx context.Context, env Env, cl *nomad.Client, pf *projectFlags, nf *nomadFlags, ids []string, experiment string) ([]query.Run, int) {
	ns := nomad.AllNamespaces
	if nf.namespace != "" {
		ns = ""
	}
	scope := query.Scope{Namespace: ns, AllProjects: true}
	if experiment != "" {
		var err error
		if scope, err = pf.scope(env, ns); err != nil {
			errorf(env, "%v", err)
			return nil, ExitUsage
		}
	}
	runs, err := query.List(ctx, cl, scope, query.Full)
	if err != nil {
		return nil, nomadError(env, err)
	}
	byID := map[string]query.Run{}
	var out []query.Run
	for _, r := range runs.Rows {
		byID[r.ID] = r
		if experiment != "" && r.Experiment == experiment {
			out = append(out, r)
		}
	}
	if experiment != "" {
		if len(out) == 0 {
			errorf(env, "no runs of experiment %q in this project (`caravan ls -all-projects` lists every run)", experiment)
			return nil, ExitError
		}
		slices.SortFunc(out, func(a, b query.Run) int { return strings.Compare(a.ID, b.ID) })
		return out, ExitOK
	}
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			errorf(env, "%v", &query.NoRunError{ID: id, Address: cl.Address()})
			return nil, ExitError
		}
		out = append(out, r)
	}
	return out, ExitOK
}

// orderBest puts the runs best first by the metric that names the best
// run; runs without it keep their order, after the others.
func orderBest(c *report.Comparison) {
	if c.Best == nil {
		return
	}
	m, goal := c.Best.Metric, c.Best.Goal
	slices.SortStableFunc(c.Runs, func(a, b report.ComparedRun) int {
		va, oka := a.Metrics[m]
		vb, okb := b.Metrics[m]
		switch {
		case oka != okb && oka:
			return -1
		case oka != okb:
			return 1
		case !oka || va.Best.Value == vb.Best.Value:
			return 0
		case report.Better(goal, va.Best.Value, vb.Best.Value):
			return -1
		}
		return 1
	})
}

func writeComparePNG(env Env, c report.Comparison, path string) int {
	m := ""
	if c.Best != nil {
		m = c.Best.Metric
	}
	var b bytes.Buffer
	if err := report.WriteComparePNG(&b, c, m); err != nil {
		if errors.Is(err, report.ErrNoMetric) {
			errorf(env, "-png %s: %v", path, err)
		} else {
			errorf(env, "%v", err)
		}
		return ExitError
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		errorf(env, "write the plot: %v (check that the directory of %s exists and is writable)", err, path)
		return ExitError
	}
	return ExitOK
}

// writeComparison prints one line per run: its varying params, then each
// metric's last value and best value with its step; the best run is
// starred and named below.
func writeComparison(w io.Writer, c report.Comparison) {
	if len(c.Same) > 0 {
		var same []string
		for _, p := range c.Same {
			same = append(same, p.Name+"="+p.Value)
		}
		fmt.Fprintf(w, "Same in every run: %s\n\n", strings.Join(same, " "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"RUN", "STATE"}
	head = append(head, c.Varying...)
	for _, m := range c.Metrics {
		head = append(head, m.Name+" LAST", m.Name+" BEST ("+m.Goal+")")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range c.Runs {
		id := r.ID
		if c.Best != nil && c.Best.Run == r.ID {
			id += " *"
		}
		cells := []string{id, r.State}
		for _, p := range c.Varying {
			cells = append(cells, cmpOr(r.Params[p], "-"))
		}
		for _, m := range c.Metrics {
			v, ok := r.Metrics[m.Name]
			if !ok {
				cells = append(cells, "-", "-")
				continue
			}
			cells = append(cells, report.FormatValue(v.Last.Value), report.FormatValue(v.Best.Value)+" @"+report.FormatValue(v.Best.Step))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch {
	case c.Best != nil:
		word := map[string]string{report.GoalMin: "lowest", report.GoalMax: "highest"}[c.Best.Goal]
		fmt.Fprintf(w, "Best run: %s, %s %s %s at step %s", c.Best.Run, word, c.Best.Metric, report.FormatValue(c.Best.Value), report.FormatValue(c.Best.Step))
		for _, m := range c.Metrics {
			if m.Name == c.Best.Metric && m.Rule == "default" {
				other := map[string]string{report.GoalMin: "max", report.GoalMax: "min"}[m.Goal]
				fmt.Fprintf(w, " (%s is best at its %s by its name; -best %s=%s says otherwise)", m.Name, m.Goal, m.Name, other)
			}
		}
		fmt.Fprintln(w)
	case len(c.Metrics) == 0:
		fmt.Fprintln(w, "No run wrote metrics: a run writes them as JSON lines to $CARAVAN_METRICS (e.g. {\"step\": 120, \"loss\": 0.31}), and caravan-agent on its node reads them.")
	default:
		fmt.Fprintf(w, "No metric was written by the runs to name a best run; they wrote: %s.\n", metricNames(c))
	}
}

func metricNames(c report.Comparison) string {
	var names []string
	for _, m := range c.Metrics {
		names = append(names, m.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
