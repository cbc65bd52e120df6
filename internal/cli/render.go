package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
)

func init() {
	register(command{
		name:     "render",
		synopsis: "Print the Nomad jobs the experiments compile to",
		run:      runRender,
	})
}

// runRender prints one Nomad job per run. With -format json (the default)
// the output is a stream of JSON documents, each the {"Job": {...}} body
// that `nomad job run -output` prints and PUT /v1/jobs takes, separated by
// newlines: `jq`, json.Decoder and similar read them one after another.
// With -format hcl each run is a jobspec for `nomad job run`, preceded by a
// "# run ID" comment line. -out DIR writes one file per run instead
// (DIR/<run ID>.json or DIR/<run ID>.nomad.hcl).
func runRender(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "render", "[DIR]")
	experiment := fs.String("experiment", "", "render only the runs of experiment `NAME`")
	format := fs.String("format", "json", "output `FORMAT`: json (what nomad job run -output prints) or hcl (a jobspec)")
	outDir := fs.String("out", "", "write one file per run into `DIR` instead of stdout")
	pin := fs.Bool("pin", false, "resolve image tags to digests through their registries, as apply does (render is otherwise offline and shows images as declared)")
	cf := addConfigFlags(fs)
	catf := addCatalogFlags(fs)
	dir, code, ok := parseDirFlags(env, fs, args)
	if !ok {
		return code
	}
	var render func(*api.Job) ([]byte, error)
	ext := ""
	switch *format {
	case "json":
		render, ext = compile.RenderJSON, ".json"
	case "hcl":
		render, ext = compile.RenderHCL, ".nomad.hcl"
	default:
		errorf(env, "unknown -format %q; use json or hcl", *format)
		return ExitUsage
	}

	// render is offline: the pools it maps to node pools come from -pools.
	cf.useCatalog(catf.load(ctx, env, nil, false))
	cfg, opts, diags := cf.load(ctx, env, dir)
	if diags.HasErrors() {
		writeDiags(env, cfg.Files, diags, false)
		return ExitError
	}
	if *experiment != "" && !hasExperiment(cfg, *experiment) {
		writeDiags(env, cfg.Files, diags, false)
		errorf(env, "no experiment %q in %s; the experiments are: %s", *experiment, dir, strings.Join(experimentNames(cfg), ", "))
		return ExitError
	}
	jobs, cdiags := compileConfig(ctx, cfg, opts, *experiment)
	diags = append(diags, cdiags...)
	writeDiags(env, cfg.Files, diags, false)
	if diags.HasErrors() {
		return ExitError
	}
	if *pin {
		if err := pinImages(ctx, env, jobs); err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
	}
	if err := writeRendered(env, jobs, render, *format == "hcl", ext, *outDir); err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	return ExitOK
}

// writeRendered prints the rendered jobs, or writes one file per run into
// outDir. The HCL stream marks where each run starts and what apply would
// still do to it (gates, image pinning), since a jobspec has no room for it.
func writeRendered(env Env, jobs []*api.Job, render func(*api.Job) ([]byte, error), hclOut bool, ext, outDir string) error {
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("creating the -out directory: %w", err)
		}
	}
	for i, job := range jobs {
		b, err := render(job)
		if err != nil {
			return fmt.Errorf("rendering run %s: %w", *job.ID, err)
		}
		if outDir != "" {
			path := filepath.Join(outDir, *job.ID+ext)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			continue
		}
		if hclOut {
			writeRunHeader(env, job, i > 0)
		}
		if _, err := env.Stdout.Write(b); err != nil {
			return fmt.Errorf("writing the output: %w", err)
		}
	}
	if outDir != "" {
		fmt.Fprintf(env.Stderr, "Wrote %s to %s.\n", plural(len(jobs), "job"), outDir)
	}
	return nil
}

// writeRunHeader comments a run's jobspec with what apply adds to it.
func writeRunHeader(env Env, job *api.Job, separate bool) {
	if separate {
		fmt.Fprintln(env.Stdout)
	}
	fmt.Fprintf(env.Stdout, "# run %s\n", *job.ID)
	if w := record.WaitForOf(job.Meta); len(w) > 0 {
		fmt.Fprintf(env.Stdout, "# waits for %s (caravan_wait_for): apply writes its gate, and the controller registers this job once they all completed\n", plural(len(w), "run"))
	}
	if needsPin(job) {
		fmt.Fprintf(env.Stdout, "# apply runs image %s by the digest the registry gives for it then (render -pin resolves it now)\n", job.Meta[record.MetaImage])
	}
}

func hasExperiment(cfg *spec.Config, name string) bool {
	return slices.Contains(experimentNames(cfg), name)
}

func experimentNames(cfg *spec.Config) []string {
	names := make([]string, 0, len(cfg.Experiments))
	for _, e := range cfg.Experiments {
		names = append(names, e.Name)
	}
	return names
}
