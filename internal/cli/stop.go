package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{
		name:     "stop",
		synopsis: "Stop a run, or every active run of an experiment (history and records stay)",
		run:      runStop,
	})
}

// runStop stops (never purges) runs: Nomad keeps the stopped job until its
// garbage collector runs, and the record stays forever.
func runStop(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "stop", "RUN | -experiment NAME")
	experiment := fs.String("experiment", "", "stop every pending or running run of this experiment")
	reason := fs.String("reason", "", "why the run is stopped; kept in its history with who stopped it")
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if (len(pos) == 1) == (*experiment != "") || len(pos) > 1 {
		errorf(env, "stop takes one run ID, or -experiment NAME")
		return ExitUsage
	}
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	if *experiment != "" {
		if err := nf.checkNamespace(ctx, cl); err != nil {
			return nomadError(env, err)
		}
		return stopExperiment(ctx, env, cl, *experiment, nf.namespace, *reason)
	}
	ri, err := query.Find(ctx, cl, pos[0])
	if err != nil {
		return nomadError(env, err)
	}
	if ri.Gate != nil {
		// A run that never started: removing its gate is stopping it.
		if err := cl.DeleteGate(ctx, ri.Gate.Ref(), int64(ri.GateIndex)); err != nil {
			return nomadError(env, err)
		}
		fmt.Fprintf(env.Stdout, "Stopped run %s before it started: it was waiting for the runs it depends on.\n", ri.ID)
		return ExitOK
	}
	if ri.Job == nil {
		fmt.Fprintf(env.Stdout, "Run %s has already ended: Nomad no longer has its job.\n", ri.ID)
		return ExitOK
	}
	if ri.Job.Stop != nil && *ri.Job.Stop {
		fmt.Fprintf(env.Stdout, "Run %s is already stopped.\n", ri.ID)
		return ExitOK
	}
	if ri.Job.Status != nil && *ri.Job.Status == "dead" {
		// Stopping a finished job would only mark it stopped in Nomad and
		// tell the user that something was stopped when nothing ran.
		fmt.Fprintf(env.Stdout, "Run %s has already ended; nothing to stop (`caravan show %s` says how it ended).\n", ri.ID, ri.ID)
		return ExitOK
	}
	if err := stopRun(ctx, env, cl, record.Ref{Namespace: ri.Namespace, Project: ri.Project, RunID: ri.ID}, *reason); err != nil {
		return nomadError(env, err)
	}
	fmt.Fprintf(env.Stdout, "Stopped run %s.\n", ri.ID)
	return ExitOK
}

// stopRun writes who stops the run and why beside its record, where the
// controller takes it into the run's outcome, then stops (never purges)
// its job.
func stopRun(ctx context.Context, env Env, cl *nomad.Client, ref record.Ref, reason string) error {
	who, err := cl.Self(ctx)
	if err != nil && !errors.Is(err, nomad.ErrPermission) {
		return err
	}
	// The token's name says who; without ACLs there is none, and the
	// local user's name is the best there is.
	by := who.String()
	if by == "" {
		by = cmp.Or(env.Getenv("USER"), "unknown") + " (local user; Nomad ACLs are off)"
	}
	b, _ := json.Marshal(controller.Stop{By: by, Reason: reason})
	if _, err := cl.PutVariable(ctx, ref.Namespace, ref.Path()+controller.StopSuffix, map[string]string{"stop": string(b)}, nomad.NoCAS); err != nil {
		return fmt.Errorf("keep who stops run %s and why: %w", ref.RunID, err)
	}
	_, err = cl.StopJob(ctx, ref.Namespace, ref.RunID)
	return err
}

func stopExperiment(ctx context.Context, env Env, cl *nomad.Client, experiment, namespace, reason string) int {
	ns := nomad.AllNamespaces
	if namespace != "" {
		ns = ""
	}
	jobs, err := cl.CaravanJobs(ctx, ns)
	if err != nil {
		return nomadError(env, err)
	}
	stopped, failed, known := 0, 0, 0
	for _, j := range jobs {
		if j.Meta[record.MetaExperiment] != experiment {
			continue
		}
		known++
		if j.Stop || (j.Status != "pending" && j.Status != "running") {
			continue
		}
		ref := record.Ref{Namespace: j.Namespace, Project: j.Meta[record.MetaProject], RunID: j.ID}
		if err := stopRun(ctx, env, cl, ref, reason); err != nil {
			errorf(env, "%v", err)
			failed++
			continue
		}
		stopped++
		fmt.Fprintf(env.Stdout, "Stopped run %s.\n", j.ID)
	}
	if failed > 0 {
		errorf(env, "stopped %d runs of experiment %q; %d could not be stopped (see above); run the command again", stopped, experiment, failed)
		return ExitError
	}
	if known == 0 {
		// Most likely a typo: say so, as `nomad job stop` does for an
		// unknown job, instead of reporting success.
		errorf(env, "no runs of experiment %q in Nomad at %s; `caravan ls` lists runs and their experiments", experiment, cl.Address())
		return ExitError
	}
	if stopped == 0 {
		fmt.Fprintf(env.Stdout, "No pending or running runs of experiment %q.\n", experiment)
	}
	return ExitOK
}
