package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{
		name:     "ls",
		synopsis: "List runs, newest first: state, pool, GPUs, age, runtime, params",
		run:      runLs,
	})
}

// lsWidth is the terminal width ls fits its lines into.
const lsWidth = 80

// minExpWidth is the narrowest EXPERIMENT column worth printing.
const minExpWidth = 6

// runLs lists every caravan run, including runs whose job Nomad has
// garbage-collected (known from their records, state "unknown").
func runLs(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "ls", "")
	experiment := fs.String("experiment", "", "only runs of this experiment")
	pool := fs.String("pool", "", "only runs in this caravan pool")
	state := fs.String("state", "", "only runs in this state: "+statesList())
	asJSON := fs.Bool("json", false, "print the runs as a JSON array")
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
	cl, err := nf.client(env)
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
	rows, corrupt := runs.Rows, runs.Corrupt
	out := rows[:0]
	for _, r := range rows {
		if (*experiment == "" || r.Experiment == *experiment) && (*pool == "" || r.Pool == *pool) && (*state == "" || string(r.State) == *state) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b query.Run) int {
		if c := b.Submitted.Compare(a.Submitted); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if *asJSON {
		if out == nil {
			out = []query.Run{}
		}
		if code := writeJSON(env, out, "write runs"); code != ExitOK {
			return code
		}
	} else {
		writeRunTable(env.Stdout, out, time.Now())
	}
	for _, err := range corrupt {
		errorf(env, "%v", err)
	}
	if len(corrupt) > 0 {
		return ExitError
	}
	return ExitOK
}

func statesList() string {
	s := make([]string, len(record.States))
	for i, st := range record.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// writeRunTable prints one line per run within lsWidth columns: the ID is
// never shortened (people copy it), the experiment and pool are, and the
// params take what is left. Long IDs narrow the experiment column, and
// drop it when it would be too narrow to read: a run ID starts with its
// experiment's name, so the ID still says it.
func writeRunTable(w io.Writer, rows []query.Run, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No runs.")
		return
	}
	idw := len("ID")
	for _, r := range rows {
		idw = max(idw, len(r.ID))
	}
	const statew, poolw = 8, 6
	// Every column but ID, EXPERIMENT and PARAMS, with their separators.
	const others = 1 + statew + 1 + poolw + 1 + 4 + 1 + 5 + 1 + 7 + 1
	expw := min(12, lsWidth-idw-others-1)
	line := func(id, exp, state, pool, gpus, age, rt, params string) string {
		s := fmt.Sprintf("%-*s ", idw, id)
		if expw >= minExpWidth {
			s += fmt.Sprintf("%-*s ", expw, clip(exp, expw))
		}
		s += fmt.Sprintf("%-*s %-*s %4s %5s %7s ", statew, state, poolw, clip(pool, poolw), gpus, age, rt)
		if room := lsWidth - len(s); room > 0 {
			s += clip(params, room)
		}
		return strings.TrimRight(s, " ")
	}
	fmt.Fprintln(w, line("ID", "EXPERIMENT", "STATE", "POOL", "GPUS", "AGE", "RUNTIME", "PARAMS"))
	for _, r := range rows {
		age, rt := "-", "-"
		if !r.Submitted.IsZero() {
			age = shortDuration(now.Sub(r.Submitted))
		}
		if d := r.Runtime(now); d > 0 {
			rt = shortDuration(d)
		}
		var ps []string
		for _, p := range r.Params {
			ps = append(ps, p.Name+"="+p.Value)
		}
		fmt.Fprintln(w, line(r.ID, r.Experiment, string(r.State), r.Pool, fmt.Sprint(r.GPUs), age, rt, strings.Join(ps, " ")))
		if r.Wait != nil && !r.HasJob {
			// A run with no job yet: what it waits for, on a line of
			// its own, where it need not be cut.
			fmt.Fprintln(w, clip("  "+r.Wait.Text(), lsWidth))
		}
	}
}

// clip shortens s to n columns, marking the cut with "~".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 1 {
		return s[:n]
	}
	return s[:n-1] + "~"
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
