package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

func init() {
	register(command{
		name:     "ls",
		synopsis: "List runs, newest first: state, pool, GPUs, age, runtime, params",
		run:      runLs,
	})
}

// runLs lists every caravan run, including runs whose job Nomad has
// garbage-collected (known from their records, state "unknown").
func runLs(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "ls", "")
	experiment := fs.String("experiment", "", "only runs of this experiment")
	pool := fs.String("pool", "", "only runs in this caravan pool")
	state := fs.String("state", "", "only runs in this state: "+statesList())
	asJSON := fs.Bool("json", false, "print the runs as a JSON array")
	sortBy := fs.String("sort", "", "order by a field (id, experiment, state, pool, gpus, priority, age, runtime, submitted), a param or a metric; metrics sort best first (see -best), -NAME reverses (default: newest first)")
	columns := fs.String("columns", "", "the `columns` to print, comma-separated: fields ("+strings.Join(lsFields, ", ")+"), params and metrics by name (param:NAME, metric:NAME when both exist)")
	best := fs.String("best", "", "which way is better for -sort by a metric: `name=min,name=max` (default: min for loss-like names, else max)")
	all := fs.Bool("all-namespaces", true, "list runs of every namespace the token can read")
	pf := addProjectFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "ls takes no arguments, got %q; filter with -experiment, -pool or -state", pos)
		return ExitUsage
	}
	if *state != "" && !slices.Contains(record.States, record.State(*state)) {
		errorf(env, "unknown -state %q; use one of %s", *state, statesList())
		return ExitUsage
	}
	goals, err := report.ParseGoals(*best)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	var cl *nomad.Client
	cl, err = nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	if err := nf.checkNamespace(ctx, cl); err != nil {
		return nomadError(env, err)
	}
	ns := ""
	if *all && nf.namespace == "" {
		ns = nomad.AllNamespaces
	}
	scope, err := pf.scope(env, ns)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	runs, err := query.List(ctx, cl, scope, query.Full)
	if err != nil {
		return nomadError(env, err)
	}
	out := filterRuns(runs.Rows, *experiment, *pool, *state)
	t, code := lsTableFor(ctx, env, cl, out, *columns, *sortBy)
	if t == nil {
		return code
	}
	if *sortBy != "" {
		if err := sortRows(out, *sortBy, t, goals); err != nil {
			errorf(env, "-sort: %v", err)
			return ExitUsage
		}
	}
	if *asJSON {
		if out == nil {
			out = []query.Run{}
		}
		if code := writeJSON(env, out, "write runs"); code != ExitOK {
			return code
		}
	} else {
		t.write(env.Stdout, out)
	}
	for _, err := range runs.Corrupt {
		errorf(env, "%v", err)
	}
	if len(runs.Corrupt) > 0 {
		return ExitError
	}
	return ExitOK
}

// filterRuns keeps the rows of experiment, pool and state ("" for any),
// newest first.
func filterRuns(rows []query.Run, experiment, pool, state string) []query.Run {
	out := rows[:0]
	for _, r := range rows {
		if (experiment == "" || r.Experiment == experiment) && (pool == "" || r.Pool == pool) && (state == "" || string(r.State) == state) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b query.Run) int {
		if c := b.Submitted.Compare(a.Submitted); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func statesList() string {
	s := make([]string, len(record.States))
	for i, st := range record.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// shortDuration is a duration in at most two units: 45s, 12m, 3h5m, 4d2h.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 && h < 10 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	days := int(d.Hours()) / 24
	if h := int(d.Hours()) % 24; h > 0 && days < 10 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

// lsTableFor builds the table of rows: the columns asked for (default
// ones otherwise), the output's width, and the runs' metrics when a column
// or the sort names one. nil comes with an exit code.
func lsTableFor(ctx context.Context, env Env, cl *nomad.Client, rows []query.Run, columns, sortBy string) (*lsTable, int) {
	names := defaultColumns
	if columns != "" {
		names = strings.Split(columns, ",")
	}
	t, err := newLsTable(rows, names, outputWidth(env), time.Now())
	if err != nil {
		errorf(env, "-columns: %v", err)
		return nil, ExitUsage
	}
	needMetrics := false
	for _, c := range t.cols {
		_, isMetric := c.metric()
		needMetrics = needMetrics || isMetric
	}
	if sortBy != "" {
		c, err := resolveColumn(strings.TrimPrefix(sortBy, "-"), rows)
		if err != nil {
			errorf(env, "-sort: %v", err)
			return nil, ExitUsage
		}
		_, isMetric := c.metric()
		needMetrics = needMetrics || isMetric
	}
	if needMetrics {
		u, err := query.Usages(ctx, cl, rows)
		if err != nil {
			return nil, nomadError(env, err)
		}
		t.usages = u
	}
	return t, ExitOK
}
