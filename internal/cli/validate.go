package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/nomad/api"
)

func init() {
	register(command{
		name:     "validate",
		synopsis: "Check the experiments in a directory and report every problem",
		run:      runValidate,
	})
}

// runValidate loads and compiles the whole configuration, so that anything
// render or apply would refuse is reported here, all at once.
func runValidate(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "validate", "[DIR]")
	asJSON := fs.Bool("json", false, "print diagnostics as a JSON array on stdout (for CI annotations)")
	cf := addConfigFlags(fs)
	catf := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	dir, code, ok := parseDirFlags(env, fs, args)
	if !ok {
		return code
	}
	// validate runs offline: it reads the catalogue from Nomad only when
	// told where Nomad is, and a failure there is a warning.
	var vs autoscale.VariableStore
	if catf.dir == "" && nf.configured(env) {
		if cl, err := nf.client(env); err == nil {
			vs = cl
		}
	}
	cf.useCatalog(catf.load(ctx, env, vs, false))
	cfg, opts, diags := cf.load(ctx, env, dir)
	if !diags.HasErrors() {
		diags = append(diags, compileEach(ctx, cfg, opts, "", func(spec.Run, *api.Job) {})...)
		if d := spec.MissingProject(cfg, hcl.DiagWarning); d != nil {
			diags = append(diags, d)
		}
	}
	writeDiags(env, cfg.Files, diags, *asJSON)
	if diags.HasErrors() {
		return ExitError
	}
	if !*asJSON {
		fmt.Fprintf(env.Stdout, "Success! %s, %s.\n", plural(len(cfg.Experiments), "experiment"), plural(len(cfg.Runs), "run"))
	}
	return ExitOK
}

// parseDirFlags parses the flags of a command whose one argument is the
// optional configuration DIR, and returns DIR; ok=false comes with the exit
// code.
func parseDirFlags(env Env, fs *flag.FlagSet, args []string) (dir string, code int, ok bool) {
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return "", code, false
	}
	if dir, ok = dirArg(env, fs, pos); !ok {
		return "", ExitUsage, false
	}
	return dir, ExitOK, true
}

// dirArg is the optional single DIR argument, "." when absent.
func dirArg(env Env, fs *flag.FlagSet, pos []string) (string, bool) {
	switch len(pos) {
	case 0:
		return ".", true
	case 1:
		return pos[0], true
	}
	errorf(env, "too many arguments %q; give one configuration directory", pos)
	fs.Usage()
	return "", false
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
