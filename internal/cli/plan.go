package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
)

func init() {
	register(command{
		name:     "plan",
		synopsis: "Show which runs apply would create, which exist, and which are no longer declared",
		run:      runPlan,
	})
}

// runPlan compares the declared runs with the runs caravan owns in Nomad.
// Exit codes follow terraform plan: 0 success; with -detailed-exitcode 0 no
// changes, 2 changes, 1 error.
func runPlan(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "plan", "[DIR]")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing would change, 2 when apply would change something, 1 on error")
	asJSON := fs.Bool("json", false, "print the plan as JSON (without the compiled jobs)")
	markdown := fs.Bool("markdown", false, "print the plan as Markdown for a pull-request comment")
	out := fs.String("out", "", "save the plan, with its compiled jobs, to `FILE` for caravan apply -plan")
	experiment := fs.String("experiment", "", "plan only this experiment")
	cf := addConfigFlags(fs)
	catf := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	dir, code, ok := parseDirFlags(env, fs, args)
	if !ok {
		return code
	}
	if *asJSON && *markdown {
		errorf(env, "-json and -markdown exclude each other; choose one")
		return ExitUsage
	}
	p, code := computePlan(ctx, env, cf, catf, nf, dir, *experiment)
	if p == nil {
		return code
	}
	if *out != "" {
		if err := savePlan(*out, p, planKey(env)); err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
	}
	var err error
	switch {
	case *asJSON:
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(planJSON{RunPlan: p.WithoutJobs(), Counts: p.Counts(), Changes: p.Counts().HasChanges()})
	case *markdown:
		err = gitops.WriteMarkdown(env.Stdout, p)
	default:
		err = gitops.WriteText(env.Stdout, p)
		if err == nil && *out != "" {
			_, err = fmt.Fprintf(env.Stdout, "\nSaved the plan to %s; apply exactly it with: caravan apply -plan %s\n", *out, *out)
		}
	}
	if err != nil {
		errorf(env, "write plan: %v", err)
		return ExitError
	}
	if *detailed && p.Counts().HasChanges() {
		return ExitChanges
	}
	return ExitOK
}

// planJSON is plan -json's document: the plan plus its totals.
type planJSON struct {
	*gitops.RunPlan
	Counts  gitops.Counts `json:"counts"`
	Changes bool          `json:"changes"`
}

// computePlan loads dir, lists Nomad and diffs them. On failure it has
// printed why and returns nil with the exit code.
func computePlan(ctx context.Context, env Env, cf *configFlags, catf *catalogFlags, nf *nomadFlags, dir, experiment string) (*gitops.RunPlan, int) {
	cl, err := nf.client(env)
	if err != nil {
		return nil, nomadError(env, err)
	}
	// The operator's pools and policy: what the experiments' pool names
	// mean, and what they may do. Plan and apply enforce the policy, so a
	// catalogue Nomad cannot give is an error.
	cf.useCatalog(catf.load(ctx, env, cl, true))
	cfg, opts, diags := cf.load(ctx, env, dir)
	if !diags.HasErrors() {
		if d := spec.MissingProject(cfg, hcl.DiagError); d != nil {
			diags = append(diags, d)
		}
	}
	if diags.HasErrors() {
		writeDiags(env, cfg.Files, diags, false)
		return nil, ExitError
	}
	if experiment != "" && !hasExperiment(cfg, experiment) {
		errorf(env, "no experiment %q in %s; see `caravan validate %s` for what is declared", experiment, dir, dir)
		return nil, ExitError
	}
	desired, ok := desiredRuns(ctx, env, cfg, opts, experiment)
	if !ok {
		return nil, ExitError
	}
	actual, err := actualRuns(ctx, cl, cfg.Project, desired...)
	if err != nil {
		return nil, nomadError(env, err)
	}
	popts := gitops.Options{Project: cfg.Project}
	if experiment != "" {
		popts.Experiments = map[string]bool{experiment: true}
	}
	p := gitops.Plan(desired, actual, popts)
	p.Snapshot = configSnapshot(env, cfg)
	return p, ExitOK
}

// configSnapshot is what apply keeps of the configuration for `caravan
// rerun -param`; nil, with a warning, when it cannot be taken.
func configSnapshot(env Env, cfg *spec.Config) *record.ConfigSnapshot {
	s, err := spec.SnapshotOf(cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "Warning: %v; the runs can be rerun exactly, but not cloned with other params (`caravan rerun -param`).\n", err)
		return nil
	}
	return s
}

// planKeyEnv names the secret that signs saved plans (an HMAC): set it in
// the environment of both caravan plan -out and caravan apply -plan.
const planKeyEnv = "CARAVAN_PLAN_KEY"

// planKey is the plan signing key from the environment, nil when unset.
func planKey(env Env) []byte {
	if env.Getenv == nil {
		return nil
	}
	if k := env.Getenv(planKeyEnv); k != "" {
		return []byte(k)
	}
	return nil
}

// savePlan writes the plan file readable by its owner only (it holds the
// compiled jobs, whose env may carry -var values) and atomically, so that
// an interrupted plan never leaves half a plan for apply to find.
func savePlan(path string, p *gitops.RunPlan, key []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".caravan-plan-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	// CreateTemp already makes the file 0600; say so rather than rely on it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	if err := gitops.WritePlan(f, p, key); err != nil {
		f.Close()
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	return nil
}
