package cli

import (
	"context"

	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{
		name:     "run",
		synopsis: "Submit the runs of one experiment file now, outside any GitOps directory",
		run:      runRun,
	})
}

// runRun applies the experiments of one file (or just -experiment) at
// once. Its runs are ad hoc (meta caravan_origin=run): a directory's plan
// never lists them as no longer declared, so apply -prune never stops them.
func runRun(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "run", "FILE")
	experiment := fs.String("experiment", "", "submit only this experiment of the file")
	par := fs.Int("parallelism", gitops.DefaultParallelism, "submit at most this many runs at once")
	project := fs.String("project", "", "the project the runs belong to, when the file declares none (default: CARAVAN_PROJECT)")
	cf := addConfigFlags(fs)
	catf := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		errorf(env, "run takes one experiment file")
		return ExitUsage
	}
	if *par < 1 {
		errorf(env, "-parallelism is %d; give at least 1", *par)
		return ExitUsage
	}
	file := pos[0]
	if *project == "" {
		*project = env.Getenv("CARAVAN_PROJECT")
	}
	if *project != "" && !record.ProjectNameRE.MatchString(*project) {
		errorf(env, "-project %q is not a project name: use 1-63 lower-case letters, digits, '-' and '_'", *project)
		return ExitUsage
	}
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	cf.useCatalog(catf.load(ctx, env, cl, true))
	cfg, opts, diags := cf.loadFile(ctx, env, file)
	if diags.HasErrors() {
		writeDiags(env, cfg.Files, diags, false)
		return ExitError
	}
	if cfg.Project == "" && *project != "" {
		cfg.SetProject(*project)
	}
	scope := map[string]bool{}
	for _, e := range cfg.Experiments {
		if *experiment == "" || e.Name == *experiment {
			scope[e.Name] = true
		}
	}
	if len(scope) == 0 {
		if *experiment != "" {
			errorf(env, "no experiment %q in %s", *experiment, file)
		} else {
			errorf(env, "%s declares no experiment", file)
		}
		return ExitError
	}
	desired, ok := desiredRuns(ctx, env, cfg, opts, *experiment)
	if !ok {
		return ExitError
	}
	actual, err := actualRuns(ctx, cl, cfg.Project, desired...)
	if err != nil {
		return nomadError(env, err)
	}
	p := gitops.Plan(desired, actual, gitops.Options{Project: cfg.Project, Experiments: scope})
	p.Snapshot = configSnapshot(env, cfg)
	// A single file is not the whole truth of an experiment: runs it no
	// longer declares are none of run's business.
	for i := range p.Experiments {
		p.Experiments[i].Removed = []gitops.RunRef{}
	}
	return applyPlan(ctx, env, cl, p, gitops.ApplyOptions{Parallelism: *par, Origin: record.OriginRun})
}
