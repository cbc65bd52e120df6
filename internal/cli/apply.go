package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
)

func init() {
	register(command{
		name:     "apply",
		synopsis: "Submit the declared runs that Nomad does not have yet (non-interactive)",
		run:      runApply,
	})
}

// runApply registers exactly what plan shows. It never asks for
// confirmation: it runs in GitOps pipelines after review of the plan, and
// -auto-approve is accepted (and ignored) for pipelines written for
// Terraform. With -plan FILE it applies a saved plan without reading any
// files, and refuses when Nomad's runs changed since the plan was made.
func runApply(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "apply", "[DIR]")
	planFile := fs.String("plan", "", "apply the plan saved in `FILE` by caravan plan -out, instead of reading DIR")
	prune := fs.Bool("prune", false, "stop runs that are no longer declared while they are pending or running (their history stays)")
	par := fs.Int("parallelism", gitops.DefaultParallelism, "submit at most this many runs at once")
	experiment := fs.String("experiment", "", "apply only this experiment")
	allowDirty := fs.Bool("allow-dirty", false, "submit runs from a configuration directory with uncommitted changes (their records then name a commit that does not hold what ran)")
	fs.Bool("auto-approve", false, "accepted for Terraform-style pipelines; apply never asks for confirmation")
	cf := addConfigFlags(fs)
	catf := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if *par < 1 {
		errorf(env, "-parallelism is %d; give at least 1", *par)
		return ExitUsage
	}
	var p *gitops.RunPlan
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	if *planFile != "" {
		if len(pos) > 0 || *experiment != "" {
			errorf(env, "-plan applies a saved plan as it is; do not also give a directory or -experiment")
			return ExitUsage
		}
		p, code = loadSavedPlan(ctx, env, cl, catf, *planFile)
	} else {
		dir, ok := dirArg(env, fs, pos)
		if !ok {
			return ExitUsage
		}
		p, code = computePlan(ctx, env, cf, catf, nf, dir, *experiment)
	}
	if p == nil {
		return code
	}
	if dirty := dirtyRuns(p); dirty > 0 && !*allowDirty {
		errorf(env, "the configuration directory has uncommitted changes (git status), so the %s to create would record a commit that does not hold what runs, and could not be reproduced from it; commit the changes and apply again, or pass -allow-dirty", plural(dirty, "run"))
		return ExitError
	}
	return applyPlan(ctx, env, cl, p, gitops.ApplyOptions{Parallelism: *par, Prune: *prune, Origin: record.OriginApply})
}

// loadSavedPlan reads a plan file and checks it against Nomad now: the
// runs there, and the operator's policy, which a saved plan's jobs must
// follow as much as a directory's experiments.
func loadSavedPlan(ctx context.Context, env Env, cl *nomad.Client, catf *catalogFlags, path string) (*gitops.RunPlan, int) {
	f, err := os.Open(path)
	if err != nil {
		errorf(env, "read plan: %v", err)
		return nil, ExitError
	}
	defer f.Close()
	p, err := gitops.ReadPlan(f, planKey(env))
	if err != nil {
		errorf(env, "read plan %s: %v", path, err)
		return nil, ExitError
	}
	cat, diags := catf.load(ctx, env, cl, true)
	if diags.HasErrors() {
		var files map[string]*hcl.File
		if cat != nil {
			files = cat.Files
		}
		writeDiags(env, files, diags, false)
		return nil, ExitError
	}
	policy := spec.DefaultPolicy()
	if cat != nil {
		policy = cat.Policy
	}
	if err := gitops.CheckPolicy(p, policy); err != nil {
		errorf(env, "%s: %v", path, err)
		return nil, ExitError
	}
	actual, err := actualRuns(ctx, cl, p.Project)
	if err != nil {
		return nil, nomadError(env, err)
	}
	if err := gitops.CheckFresh(p, actual); err != nil {
		errorf(env, "%s: %v", path, err)
		return nil, ExitError
	}
	return p, ExitOK
}

// applyPlan prints the plan, executes it with progress on stderr, and
// reports the outcome.
func applyPlan(ctx context.Context, env Env, cl *nomad.Client, p *gitops.RunPlan, opts gitops.ApplyOptions) int {
	if err := gitops.WriteText(env.Stdout, p); err != nil {
		errorf(env, "write plan: %v", err)
		return ExitError
	}
	c := p.Counts()
	if c.Create == 0 && (!opts.Prune || c.RemovedActive == 0) {
		fmt.Fprintln(env.Stdout, "Nothing to apply.")
		return ExitOK
	}
	who, err := cl.Self(ctx)
	if err != nil && !errors.Is(err, nomad.ErrPermission) {
		return nomadError(env, err)
	}
	opts.SubmittedBy = who.String()
	if c.Create > 0 {
		v, code := checkNomadVersion(ctx, env, cl, p)
		if code != ExitOK {
			return code
		}
		opts.NomadVersion = v
	}
	opts.Progress = progressPrinter(env.Stderr, isTerminal(env.Stderr))
	res := gitops.Apply(ctx, cl, p, opts)
	code := writeApplyResult(env, res)
	if res.SnapshotErr != nil {
		fmt.Fprintf(env.Stderr, "Warning: %v; the runs are submitted and can be rerun exactly, but not cloned with other params (`caravan rerun -param`).\n", res.SnapshotErr)
	}
	if len(res.Registered)+len(res.Gated) > 0 {
		warnWithoutController(ctx, env, cl)
	}
	return code
}

// dirtyRuns counts the runs to create whose configuration directory had
// uncommitted changes when they were compiled (job meta).
func dirtyRuns(p *gitops.RunPlan) int {
	n := 0
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			if c.Job != nil && c.Job.Meta[record.MetaConfigDirty] == "true" {
				n++
			}
		}
	}
	return n
}

// checkNomadVersion reads the Nomad servers' version, for the runs'
// records, and refuses runs with a timeout on a Nomad that predates
// max_run_duration: such a server drops the field, and the timeout would
// silently do nothing. A token that may not read the version (node:read)
// gets a warning, not a refusal: the runs' constraint keeps them on clients
// that enforce it.
func checkNomadVersion(ctx context.Context, env Env, cl *nomad.Client, p *gitops.RunPlan) (string, int) {
	v, err := cl.ServerVersion(ctx)
	switch {
	case errors.Is(err, nomad.ErrPermission):
		fmt.Fprintf(env.Stderr, "Warning: this token may not read the Nomad servers' version (node:read), so the runs' records will not name it: %v\n", err)
		return "", ExitOK
	case err != nil:
		return "", nomadError(env, err)
	}
	if v == "" || nomad.VersionAtLeast(v, compile.MaxRunDurationSince) {
		return v, ExitOK
	}
	n := 0
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			if c.Job != nil && c.Job.Meta[record.MetaTimeout] != "" {
				n++
			}
		}
	}
	if n > 0 {
		errorf(env, "Nomad %s at %s does not know max_run_duration (Nomad %s and later enforce it), so the timeout of %s would be dropped silently; upgrade Nomad, or remove timeout from those experiments", v, cl.Address(), compile.MaxRunDurationSince, plural(n, "run"))
		return "", ExitError
	}
	return v, ExitOK
}

// controllerStale is how old the controller's heartbeat may be before
// apply says that nobody keeps records: a few missed beats, not one.
const controllerStale = 5 * controller.HeartbeatEvery

// warnWithoutController says so when no controller has run lately: apply
// registers jobs only, and without a controller the runs' history goes
// with their jobs when Nomad collects them.
func warnWithoutController(ctx context.Context, env Env, cl *nomad.Client) {
	at, err := controller.Heartbeat(ctx, cl)
	switch {
	case err != nil:
		env.Logger.Debug("could not read the controller heartbeat", "err", err)
	case at.IsZero():
		fmt.Fprintf(env.Stderr, "Warning: no caravan controller has run in this cluster. The runs are submitted, but their records (their history once Nomad collects their jobs) are written by `caravan controller` or `caravan autoscale`; run one (docs/setup.md, section 7).\n")
	case time.Since(at) > controllerStale:
		fmt.Fprintf(env.Stderr, "Warning: the caravan controller was last seen %s ago. The runs are submitted, but their records are written only while `caravan controller` or `caravan autoscale` runs; check that it does (docs/setup.md, section 7).\n", shortDuration(time.Since(at)))
	}
}
