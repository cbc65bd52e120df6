package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
	"golang.org/x/term"
)

// Shared wiring of the GitOps commands (plan, apply, run): files → desired
// runs, Nomad → actual runs, and apply's progress output.

// desiredRuns compiles cfg's runs (only experiment's when not "") into
// desired runs. Diagnostics are printed; ok=false means the command must
// exit with ExitError.
func desiredRuns(ctx context.Context, env Env, cfg *spec.Config, opts compile.Options, experiment string) ([]plan.DesiredRun, bool) {
	jobs, diags := compileConfig(ctx, cfg, opts, experiment)
	if diags.HasErrors() {
		writeDiags(env, cfg.Files, diags, false)
		return nil, false
	}
	if err := pinImages(ctx, env, jobs); err != nil {
		errorf(env, "%v", err)
		return nil, false
	}
	return plan.Desired(jobs), true
}

// actualRuns lists what project owns in Nomad, in every namespace the
// token may see: caravan jobs (by meta) and run records, through the same
// listing as ls. With desired runs it also refuses, from the same listing,
// a desired run whose ID is taken by a job caravan does not own: apply
// would fail on it, so plan says so first.
func actualRuns(ctx context.Context, cl *nomad.Client, project string, desired ...plan.DesiredRun) ([]plan.ActualRun, error) {
	runs, err := query.List(ctx, cl, query.Scope{Namespace: nomad.AllNamespaces, Project: project}, query.Brief)
	if err != nil {
		return nil, err
	}
	if err := foreignCollisions(cl, runs.Foreign, desired); err != nil {
		return nil, err
	}
	return gitops.Actual(runs.Rows), nil
}

func foreignCollisions(cl *nomad.Client, foreign map[string]*api.JobListStub, desired []plan.DesiredRun) error {
	var taken []string
	for _, d := range desired {
		if j, ok := foreign[d.ID]; ok {
			taken = append(taken, fmt.Sprintf("%s (namespace %s)", j.ID, j.Namespace))
		}
	}
	if len(taken) == 0 {
		return nil
	}
	return fmt.Errorf("job ID %s already exists in Nomad at %s and caravan does not own it (its meta lacks %s=%s); caravan never touches it: rename the experiment or remove that job",
		strings.Join(taken, ", "), cl.Address(), record.MetaManagedBy, record.ManagedByValue)
}

// isTerminal reports whether w is a terminal (progress bars only there).
func isTerminal(w io.Writer) bool {
	f, ok := rawOf(w).(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressPrinter returns apply's progress callback: a bar redrawn in
// place on a terminal when there are many runs, plain lines otherwise
// (one per run for a few runs, one per tenth for many, so CI logs stay
// readable).
//
// The bar's own control characters (carriage return, erase line) go to the
// writer beneath the output filter; everything else, run IDs and Nomad's
// errors included, goes through it.
func progressPrinter(w io.Writer, tty bool) func(gitops.Progress) {
	const many = 20
	lastTenth := 0
	ctl := rawOf(w)
	return func(p gitops.Progress) {
		if p.Err != nil {
			if tty && p.Total >= many {
				fmt.Fprint(ctl, "\r\033[K")
			}
			fmt.Fprintf(w, "failed %s: %v\n", p.ID, p.Err)
			return
		}
		switch {
		case tty && p.Total >= many:
			const width = 40
			filled := width * p.Done / p.Total
			fmt.Fprintf(ctl, "\r[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.Done, p.Total)
			if p.Done == p.Total {
				fmt.Fprintln(w)
			}
		case p.Total < many:
			fmt.Fprintf(w, "%s %s (%d/%d)\n", p.Action, p.ID, p.Done, p.Total)
		default:
			if tenth := 10 * p.Done / p.Total; tenth > lastTenth {
				lastTenth = tenth
				fmt.Fprintf(w, "progress: %d/%d done\n", p.Done, p.Total)
			}
		}
	}
}

// writeApplyResult prints what an apply did, and returns its exit code.
// The failures themselves were printed by the progress callback.
func writeApplyResult(env Env, res *gitops.ApplyResult) int {
	verdict := "Apply complete"
	if res.Err() != nil {
		verdict = "Apply incomplete"
	}
	waiting := ""
	if n := len(res.Gated); n > 0 {
		waiting = fmt.Sprintf(", %d waiting for the runs they depend on (the controller starts them)", n)
	}
	fmt.Fprintf(env.Stdout, "%s: %d registered%s, %d already submitted by someone else, %d stopped.\n",
		verdict, len(res.Registered), waiting, len(res.Present), len(res.Stopped))
	if err := res.Err(); err != nil {
		// Each failure was printed as it happened (progressPrinter);
		// listing them again here printed every reason three times.
		errorf(env, "%v", err)
		return ExitError
	}
	return ExitOK
}
