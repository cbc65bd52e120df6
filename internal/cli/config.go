package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/nomad/api"
)

// gitTimeout bounds each git call that describes the configuration
// directory; git on a healthy repository answers in milliseconds.
const gitTimeout = 5 * time.Second

// configFlags are the flags of every command that loads a configuration
// directory: -var, -var-file and -max-runs, as Terraform users know them.
type configFlags struct {
	vars     []string // name=value, in command-line order (later wins)
	varFiles []string
	maxRuns  int
	// catalog and catalogDiags are the operator's pool catalogue and what
	// reading it said (useCatalog); nil catalog means none.
	catalog      *spec.Catalog
	catalogDiags hcl.Diagnostics
}

// addConfigFlags registers the configuration flags on fs.
func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{}
	fs.Func("var", "set the variable `name=value` (repeatable; overrides -var-file and CARAVAN_VAR_name)", func(s string) error {
		c.vars = append(c.vars, s)
		return nil
	})
	fs.Func("var-file", "read variables from `FILE`, an HCL file of name = value lines (repeatable, applied in order)", func(s string) error {
		c.varFiles = append(c.varFiles, s)
		return nil
	})
	fs.IntVar(&c.maxRuns, "max-runs", spec.DefaultMaxRuns, "refuse an experiment whose sweep yields more than `N` runs")
	return c
}

// loadPools reads an operator's pools directory (caravan autoscale) with
// the same -var, -var-file and CARAVAN_VAR_name handling as load.
func (c *configFlags) loadPools(ctx context.Context, env Env, dir string) (*spec.Catalog, hcl.Diagnostics) {
	vars, diags := c.parseVars()
	if diags.HasErrors() {
		return &spec.Catalog{Source: dir, Pools: map[string]*spec.Pool{}, Policy: spec.DefaultPolicy()}, diags
	}
	return spec.LoadPools(ctx, dir, spec.LoadOptions{Vars: vars, VarFiles: c.varFiles, Env: env.Environ(), MaxRuns: c.maxRuns})
}

// parseVars splits the -var flags into name and raw value.
func (c *configFlags) parseVars() (map[string]string, hcl.Diagnostics) {
	vars := make(map[string]string, len(c.vars))
	var diags hcl.Diagnostics
	for _, kv := range c.vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The -var value %q is not name=value. Write it as -var 'name=value'.", kv),
				Subject:  &hcl.Range{Filename: "<command line>"},
			})
			continue
		}
		vars[strings.TrimSpace(name)] = value
	}
	return vars, diags
}

// load reads the configuration in dir and describes its git state for the
// compiler. Diagnostics cover the files and the -var flags; a directory
// outside git is not an error (empty commit, not dirty).
func (c *configFlags) load(ctx context.Context, env Env, dir string) (*spec.Config, compile.Options, hcl.Diagnostics) {
	return c.loadFiles(ctx, env, dir, nil)
}

// loadFile is load for the one experiment file of `caravan run FILE`,
// relative to its own directory (so file-relative paths resolve as in a
// directory).
func (c *configFlags) loadFile(ctx context.Context, env Env, file string) (*spec.Config, compile.Options, hcl.Diagnostics) {
	return c.loadFiles(ctx, env, filepath.Dir(file), []string{filepath.Base(file)})
}

// loadFiles is load restricted to files in dir, or all of dir when files
// is nil.
func (c *configFlags) loadFiles(ctx context.Context, env Env, dir string, files []string) (*spec.Config, compile.Options, hcl.Diagnostics) {
	vars, diags := c.parseVars()
	if diags.HasErrors() {
		return &spec.Config{Dir: dir}, compile.Options{ConfigDir: dir}, diags
	}
	if c.maxRuns < 1 {
		return &spec.Config{Dir: dir}, compile.Options{ConfigDir: dir}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid -max-runs option",
			Detail:   fmt.Sprintf("-max-runs is %d; give a positive number of runs.", c.maxRuns),
			Subject:  &hcl.Range{Filename: "<command line>"},
		}}
	}
	if c.catalogDiags.HasErrors() {
		// Without the catalogue every pool name would cascade into errors
		// of its own: report what reading it said, and nothing else.
		cfg := &spec.Config{Dir: dir, Files: map[string]*hcl.File{}}
		if c.catalog != nil {
			cfg.Files = c.catalog.Files
		}
		return cfg, compile.Options{ConfigDir: dir}, c.catalogDiags
	}
	lo := spec.LoadOptions{Vars: vars, VarFiles: c.varFiles, Env: env.Environ(), MaxRuns: c.maxRuns, Catalog: c.catalog}
	var cfg *spec.Config
	var ldiags hcl.Diagnostics
	if files == nil {
		cfg, ldiags = spec.Load(ctx, dir, lo)
	} else {
		cfg, ldiags = spec.LoadFiles(ctx, dir, files, lo)
	}
	diags = append(append(diags, c.catalogDiags...), ldiags...)
	if cfg == nil {
		cfg = &spec.Config{Dir: dir}
	}
	if c.catalog != nil {
		// Diagnostics may point into the pools directory: print them with
		// snippets too.
		for name, f := range c.catalog.Files {
			if cfg.Files[name] == nil {
				cfg.Files[name] = f
			}
		}
	}
	opts := compile.Options{ConfigDir: dir, Pools: cfg.Pools, CaravanVersion: Version}
	opts.ConfigCommit, opts.ConfigDirty = gitState(ctx, env, dir)
	return cfg, opts, diags
}

// gitState is the commit checked out in dir and whether the files under dir
// have uncommitted changes. Any failure (no git, not a repository, a hung
// git) gives "", false: the meta then says the configuration is unversioned.
func gitState(ctx context.Context, env Env, dir string) (commit string, dirty bool) {
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, gitTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		// Describing the tree must not take index.lock from a user's
		// concurrent git command.
		cmd.Env = append(env.Environ(), "GIT_OPTIONAL_LOCKS=0")
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out.String(), nil
	}
	head, err := run("rev-parse", "--verify", "HEAD")
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			env.Logger.Debug("config commit unknown", "dir", dir, "err", err)
		}
		return "", false
	}
	status, err := run("status", "--porcelain", "--", ".")
	if err != nil {
		env.Logger.Debug("config worktree state unknown", "dir", dir, "err", err)
		return strings.TrimSpace(head), false
	}
	return strings.TrimSpace(head), strings.TrimSpace(status) != ""
}

// compileCheckEvery is how many runs are compiled between two looks at
// the context (a run compiles in about 10 µs).
const compileCheckEvery = 256

// compileConfig compiles every run of cfg (only those of experiment when it
// is not "") and returns the jobs in run order, with IDs that collide in
// their 8 hex digits made distinct (compile.Disambiguate); see compileEach.
func compileConfig(ctx context.Context, cfg *spec.Config, opts compile.Options, experiment string) ([]*api.Job, hcl.Diagnostics) {
	_, jobs, diags := compileRuns(ctx, cfg, opts, experiment)
	return jobs, diags
}

// compileRuns is compileConfig that also returns the run of each job:
// runs[i] compiled to jobs[i] (what plan.Desired pairs up). Runs whose
// experiment failed to compile, or that duplicate an earlier run, are in
// neither slice; the diagnostics say so.
//
// A run of an experiment with depends_on names the runs it waits for
// (compile.LinkDependencies), so the experiments it depends on are
// compiled too, even when experiment limits the result.
func compileRuns(ctx context.Context, cfg *spec.Config, opts compile.Options, experiment string) ([]spec.Run, []*api.Job, hcl.Diagnostics) {
	want := map[string]bool{}
	if experiment != "" {
		want[experiment] = true
		for _, e := range cfg.Experiments {
			if e.Name == experiment {
				for _, d := range e.DependsOn {
					want[d] = true
				}
			}
		}
	}
	runs := make([]spec.Run, 0, len(cfg.Runs))
	jobs := make([]*api.Job, 0, len(cfg.Runs))
	diags := compileEachOf(ctx, cfg, opts, want, func(r spec.Run, j *api.Job) {
		runs = append(runs, r)
		jobs = append(jobs, j)
	})
	compile.Disambiguate(jobs)
	if !diags.HasErrors() {
		if err := compile.LinkDependencies(jobs); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Dependencies do not link",
				Detail: strings.TrimPrefix(err.Error(), "compile: ") + ".", Subject: &hcl.Range{Filename: cfg.Dir}})
		}
	}
	if experiment == "" {
		return runs, jobs, diags
	}
	n := 0
	for i := range jobs {
		if runs[i].Experiment.Name == experiment {
			runs[n], jobs[n] = runs[i], jobs[i]
			n++
		}
	}
	return runs[:n], jobs[:n], diags
}

// compileEach compiles every run of cfg (only those of experiment when it
// is not ""), handing each job to use, so that validate need not keep
// 100k jobs alive. A run that fails to compile is a diagnostic on its
// experiment block (one per experiment, not one per run), and so are two
// sweep points with the same spec: they would be one Nomad job. (Runs that
// differ but share an 8-hex ID are not an error: compileConfig gives them
// distinct IDs.) It stops with an "Interrupted" error when ctx is done.
func compileEach(ctx context.Context, cfg *spec.Config, opts compile.Options, experiment string, use func(spec.Run, *api.Job)) hcl.Diagnostics {
	var want map[string]bool
	if experiment != "" {
		want = map[string]bool{experiment: true}
	}
	return compileEachOf(ctx, cfg, opts, want, use)
}

// compileEachOf is compileEach for the experiments in want (all when want
// is empty).
func compileEachOf(ctx context.Context, cfg *spec.Config, opts compile.Options, want map[string]bool, use func(spec.Run, *api.Job)) hcl.Diagnostics {
	var diags hcl.Diagnostics
	type origin struct {
		exp   string
		index int
	}
	seen := make(map[string]origin, len(cfg.Runs)) // by full spec hash
	failed := map[*spec.Experiment]bool{}
	dupReported := map[*spec.Experiment]bool{}
	for i, run := range cfg.Runs {
		if i%compileCheckEvery == 0 && ctx.Err() != nil {
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Interrupted",
				Detail:   fmt.Sprintf("Compiling the runs of %s was stopped before it finished (%v); nothing was changed. Run the command again to finish it.", cfg.Dir, context.Cause(ctx)),
				Subject:  &hcl.Range{Filename: cfg.Dir},
			})
		}
		e := run.Experiment
		if len(want) > 0 && !want[e.Name] || failed[e] {
			continue
		}
		job, err := compile.Job(run, opts)
		if err != nil {
			failed[e] = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Experiment does not compile to a Nomad job",
				Detail:   strings.TrimPrefix(err.Error(), "compile: ") + ".",
				Subject:  e.DeclRange.Ptr(),
			})
			continue
		}
		hash := job.Meta[record.MetaSpecHash]
		if prev, dup := seen[hash]; dup {
			if dupReported[e] {
				continue
			}
			dupReported[e] = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate run",
				Detail: fmt.Sprintf("Sweep points %d and %d of experiment %q have the same parameters, so they would be the same Nomad job %s. Remove the repeated value, or add a parameter that tells them apart (such as seed).",
					prev.index, run.Index, prev.exp, *job.ID),
				Subject: e.DeclRange.Ptr(),
			})
			continue
		}
		seen[hash] = origin{e.Name, run.Index}
		use(run, job)
	}
	return diags
}
