package internal

import (
	"errors"
	"go/build"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/caravan-ml/caravan/"

// imports lists, for every package of the module, the module's packages
// its non-test code may import. A new package must be added here, which is
// the moment to decide where it sits; "*" allows any (the CLI wires
// everything together).
var imports = map[string][]string{
	"cmd/caravan":               {"internal/cli"},
	"cmd/caravan-agent":         {"internal/agent/agentcmd"},
	"cmd/hcinstall":             {"internal/hcinstall"},
	"internal":                  {},
	"internal/cli":              {"*"},
	"internal/spec":             {"internal/record"},
	"internal/record":           {},
	"internal/compile":          {"internal/spec", "internal/record"},
	"internal/gitops":           {"internal/spec", "internal/compile", "internal/gitops/plan", "internal/nomad", "internal/query", "internal/record"},
	"internal/gitops/plan":      {"internal/spec", "internal/record"},
	"internal/query":            {"internal/nomad", "internal/record"},
	"internal/nomad":            {"internal/record"},
	"internal/autoscale":        {"internal/spec", "internal/autoscale/decide", "internal/nomad", "internal/record", "internal/terraform"},
	"internal/autoscale/decide": {"internal/spec"},
	"internal/controller":       {"internal/nomad", "internal/query", "internal/record", "internal/report", "internal/report/triage"},
	"internal/terraform":        {},
	"internal/sim":              {"internal/spec", "internal/autoscale/decide"},
	"internal/gpu":              {},
	"internal/agent":            {"internal/gpu", "internal/nomad", "internal/record"},
	// The agent's command, shared by cmd/caravan-agent and `caravan agent`.
	"internal/agent/agentcmd": {"internal/agent", "internal/gpu", "internal/nomad"},
	"internal/report":         {"internal/nomad", "internal/record", "internal/report/triage"},
	"internal/report/triage":  {"internal/record"},
	"internal/registry":       {},
	"internal/hcinstall":      {},
	"internal/e2e":            {},
	// Test helpers: imported by tests only (see testOnly).
	"internal/nomad/nomadtest":          {},
	"internal/gpu/nvmlmock":             {},
	"internal/testutil/golden":          {},
	"internal/testutil/sweepdir":        {},
	"internal/testutil/syncbuf":         {},
	"internal/testutil/cputime":         {},
	"internal/report/triage/triagetest": {"internal/record"},
}

// testOnly are the fakes and helpers that no binary may link.
var testOnly = []string{
	"internal/nomad/nomadtest", "internal/gpu/nvmlmock", "internal/report/triage/triagetest",
	"internal/testutil/", "internal/e2e",
}

// owners are the external modules that only some packages may import: the
// one package that talks to each outside system, and the heavy libraries
// kept out of the rest.
var owners = map[string][]string{
	"github.com/hashicorp/terraform-exec": {"internal/terraform"},
	"github.com/hashicorp/terraform-json": {"internal/terraform"},
	"github.com/hashicorp/hc-install":     {"internal/hcinstall"},
	"github.com/hashicorp/go-cleanhttp":   {"internal/nomad"},
	"github.com/NVIDIA/go-nvml":           {"internal/gpu", "internal/gpu/nvmlmock"},
	"github.com/hashicorp/hcl/v2":         {"internal/spec", "internal/compile", "internal/cli", "internal/terraform"},
	"github.com/prometheus/client_golang": {"internal/agent", "internal/agent/agentcmd", "internal/autoscale", "internal/controller", "internal/cli"},
	"gonum.org/v1/plot":                   {"internal/report"},
	// Container registries: the lookups that pin image tags to digests.
	"github.com/google/go-containerregistry": {"internal/registry"},
}

func under(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// packages reads the non-test imports of every package below the module
// root, in every build configuration (UseAllFiles: the cgo and e2e files
// count too).
func packages(t *testing.T) map[string][]string {
	t.Helper()
	ctx := build.Default
	ctx.UseAllFiles = true
	ctx.CgoEnabled = true // files that import "C" count whatever this test was built with
	out := map[string][]string{}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); dir != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := ctx.ImportDir(dir, 0)
		if _, ok := errors.AsType[*build.NoGoError](err); ok {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportsFollowTheDesign(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < len(imports)/2 {
		t.Fatalf("found %d packages: the walk did not start at the module root", len(pkgs))
	}
	for _, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		deps := pkgs[pkg]
		allowed, known := imports[pkg]
		if !known {
			t.Errorf("%s is not in internal/layering_test.go's imports table: add it with the module packages it may import", pkg)
			continue
		}
		for _, dep := range deps {
			if own, ok := strings.CutPrefix(dep, module); ok {
				if !slices.Contains(allowed, "*") && !slices.Contains(allowed, own) {
					t.Errorf("%s imports %s, which DESIGN.md's arrows do not allow; move the code, or change the table with the design", pkg, own)
				}
				for _, f := range testOnly {
					if under(own, f) {
						t.Errorf("%s imports %s, a test helper, in non-test code: binaries must not link fakes", pkg, own)
					}
				}
				continue
			}
			for mod, pkgs := range owners {
				if under(dep, mod) && !slices.Contains(pkgs, pkg) {
					t.Errorf("%s imports %s; only %s may (keep each outside system behind its one package)", pkg, dep, strings.Join(pkgs, ", "))
				}
			}
		}
	}
	for pkg := range imports {
		if _, ok := pkgs[pkg]; !ok {
			t.Errorf("imports table names %s, which has no Go package: remove it", pkg)
		}
	}
}

// agentLinks are what the node agent's binary must link, and agentExcludes
// what it must not: the agent runs on every GPU node, where each package
// linked costs resident memory, so the compiler, the autoscaler, Terraform,
// the simulator, the reports and the libraries behind them stay in
// cmd/caravan. A trailing "/" covers the packages below too.
var (
	agentLinks    = []string{module + "internal/agent", module + "internal/gpu", module + "internal/nomad"}
	agentExcludes = []string{
		module + "internal/cli", module + "internal/spec", module + "internal/compile",
		module + "internal/gitops", module + "internal/autoscale/", module + "internal/terraform",
		module + "internal/sim", module + "internal/report", module + "internal/hcinstall",
		"github.com/hashicorp/hcl/v2/", "github.com/hashicorp/terraform-exec/",
		"github.com/hashicorp/terraform-json/", "github.com/hashicorp/hc-install/",
		"gonum.org/v1/plot/", module + "internal/registry", "github.com/google/go-containerregistry/",
	}
)

// TestAgentBinaryLinksOnlyTheAgent lists every package cmd/caravan-agent
// links, its module dependencies included, with cgo on (as GPU nodes run
// it) and off.
func TestAgentBinaryLinksOnlyTheAgent(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot list cmd/caravan-agent's dependencies")
	}
	for _, cgo := range []string{"1", "0"} {
		cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", "../cmd/caravan-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOOS=linux")
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("go list -deps ./cmd/caravan-agent: %v\n%s", err, stderr)
		}
		deps := strings.Fields(string(out))
		for _, want := range agentLinks {
			if !slices.Contains(deps, want) {
				t.Errorf("CGO_ENABLED=%s: cmd/caravan-agent does not link %s; deps:\n%s", cgo, want, out)
			}
		}
		for _, dep := range deps {
			for _, bad := range agentExcludes {
				if dep == strings.TrimSuffix(bad, "/") || strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
					t.Errorf("CGO_ENABLED=%s: cmd/caravan-agent links %s; find the import with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/caravan-agent | grep %s",
						cgo, dep, strings.TrimSuffix(bad, "/"))
				}
			}
		}
	}
}
