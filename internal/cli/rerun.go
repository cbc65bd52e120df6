package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{
		name:     "rerun",
		synopsis: "Submit a run's recorded job again, exactly, under a new run ID; with -param, a clone with those params changed",
		run:      runRerun,
	})
}

// maxRerunOrdinal bounds the search for a free rerun ID.
const maxRerunOrdinal = 1000

// runRerun reproduces a run from its record, never from the current files:
// the new run gets ID gitops.RerunID(RUN, n) for the first ordinal n whose
// ID is free, and meta caravan_rerun_of=RUN.
func runRerun(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "rerun", "RUN [-param name=value ...]")
	var edits []string
	fs.Func("param", "clone the run with param `name=value` changed (repeatable): its experiment is expanded again at the edited params from the configuration it was compiled from, as the language would, under a new run ID", func(s string) error {
		edits = append(edits, s)
		return nil
	})
	catf := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	cl, ri, code, ok := parseRunArg(ctx, env, fs, nf, args)
	if !ok {
		return code
	}
	rec, err := ri.RecordOrJob()
	switch {
	case errors.Is(err, nomad.ErrCorrupt):
		errorf(env, "cannot rerun %s exactly: %v", ri.ID, err)
		return ExitError
	case rec == nil:
		errorf(env, "cannot rerun %s exactly: Nomad no longer has its job and it has no record in Nomad Variables (%s); records are written while `caravan controller` or `caravan autoscale` runs (docs/setup.md, section 7)", ri.ID, ri.RecordRef.Path())
		return ExitError
	}
	ri.Record = rec
	if len(edits) > 0 {
		return cloneRun(ctx, env, cl, ri, edits, catf)
	}
	who, err := cl.Self(ctx)
	if err != nil && !errors.Is(err, nomad.ErrPermission) {
		return nomadError(env, err)
	}
	for n := 1; n <= maxRerunOrdinal; n++ {
		id := gitops.RerunID(ri.ID, n)
		free, err := runIDFree(ctx, cl, record.Ref{Namespace: ri.Namespace, Project: ri.Record.Project, RunID: id})
		if err != nil {
			return nomadError(env, err)
		}
		if !free {
			continue
		}
		job, err := gitops.Rerun(ri.Record, id)
		if err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
		if by := who.String(); by != "" {
			job.Meta[record.MetaSubmittedBy] = by
		}
		// The rerun runs the recorded job; what submits it now is this
		// caravan, to these servers.
		job.Meta[record.MetaCaravanVersion] = Version
		if v, err := cl.ServerVersion(ctx); err == nil && v != "" {
			job.Meta[record.MetaNomadVersion] = v
		}
		created, err := cl.CreateJob(ctx, job)
		if errors.Is(err, nomad.ErrConflict) || (err == nil && !created) {
			continue // someone took this ordinal between our check and our submit
		}
		if err != nil {
			return nomadError(env, err)
		}
		fmt.Fprintf(env.Stdout, "Submitted %s, a rerun of %s (ordinal %d).\n", id, ri.ID, n)
		if img := ri.Record.Image; img != "" && ri.Record.ImageDigest == "" {
			fmt.Fprintf(env.Stderr, "Warning: %s ran image %s unpinned (image_pinning %s): the rerun pulls what the tag names today, which may not be what the original ran.\n", ri.ID, img, cmpOr(ri.Record.ImagePinning, "unknown"))
		}
		return ExitOK
	}
	errorf(env, "run %s already has %d reruns; no free rerun ID left", ri.ID, maxRerunOrdinal)
	return ExitError
}

// runIDFree reports whether neither a job nor a record uses ref's run ID.
func runIDFree(ctx context.Context, cl *nomad.Client, ref record.Ref) (bool, error) {
	_, err := cl.Job(ctx, ref.Namespace, ref.RunID)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, nomad.ErrNotFound):
		return false, err
	}
	_, err = cl.Variable(ctx, ref.Namespace, ref.Path())
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, nomad.ErrNotFound):
		return false, err
	}
	return true, nil
}
