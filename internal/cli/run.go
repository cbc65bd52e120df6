package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
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
	cf := addConfigFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		errorf(env, "run takes one experiment file")
		return ExitUsage
	}
	file := pos[0]
	cfg, opts, diags := loadFile(ctx, env, cf, file)
	if diags.HasErrors() {
		writeDiags(env, cfg.Files, diags, false)
		return ExitError
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
	desired, ok := desiredRuns(env, cfg, opts, *experiment)
	if !ok {
		return ExitError
	}
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	actual, err := actualRuns(ctx, cl, desired...)
	if err != nil {
		return nomadError(env, err)
	}
	p := gitops.Plan(desired, actual, gitops.Options{Experiments: scope})
	// A single file is not the whole truth of an experiment: runs it no
	// longer declares are none of run's business.
	for i := range p.Experiments {
		p.Experiments[i].Removed = []gitops.RunRef{}
	}
	return applyPlan(ctx, env, cl, p, gitops.ApplyOptions{Parallelism: *par, Origin: gitops.OriginRun})
}

// loadFile loads one experiment file with the -var flags, relative to its
// own directory (so file-relative paths resolve as in a directory).
func loadFile(ctx context.Context, env Env, cf *configFlags, file string) (*spec.Config, compile.Options, hcl.Diagnostics) {
	dir := filepath.Dir(file)
	vars := map[string]string{}
	var diags hcl.Diagnostics
	for _, kv := range cf.vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("The -var value %q is not name=value. Write it as -var 'name=value'.", kv), Subject: &hcl.Range{Filename: "<command line>"}})
			continue
		}
		vars[strings.TrimSpace(name)] = value
	}
	if diags.HasErrors() {
		return &spec.Config{Dir: dir}, compile.Options{ConfigDir: dir}, diags
	}
	cfg, ldiags := spec.LoadFiles(dir, []string{filepath.Base(file)}, spec.LoadOptions{Vars: vars, VarFiles: cf.varFiles, Env: env.Environ(), MaxRuns: cf.maxRuns})
	diags = append(diags, ldiags...)
	if cfg == nil {
		cfg = &spec.Config{Dir: dir}
	}
	opts := compile.Options{ConfigDir: dir, Pools: cfg.Pools}
	opts.ConfigCommit, opts.ConfigDirty = gitState(ctx, env, dir)
	return cfg, opts, diags
}
