package internal

import (
	"errors"
	"go/build"
	"io/fs"
	"maps"
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
	"cmd/hcinstall":             {"internal/hcinstall"},
	"internal":                  {},
	"internal/cli":              {"*"},
	"internal/spec":             {},
	"internal/record":           {},
	"internal/compile":          {"internal/spec", "internal/record"},
	"internal/gitops":           {"internal/spec", "internal/compile", "internal/nomad", "internal/record"},
	"internal/nomad":            {"internal/record"},
	"internal/autoscale":        {"internal/spec", "internal/autoscale/decide", "internal/nomad", "internal/record", "internal/terraform"},
	"internal/autoscale/decide": {"internal/spec"},
	"internal/terraform":        {},
	"internal/sim":              {"internal/spec", "internal/autoscale/decide"},
	"internal/gpu":              {},
	"internal/agent":            {"internal/gpu", "internal/nomad", "internal/record"},
	"internal/report":           {"internal/nomad", "internal/record"},
	"internal/hcinstall":        {},
	"internal/e2e":              {},
	// Test helpers: imported by tests only (see testOnly).
	"internal/nomad/nomadtest":   {},
	"internal/gpu/nvmlmock":      {},
	"internal/gpu/cthread":       {},
	"internal/testutil/golden":   {},
	"internal/testutil/sweepdir": {},
	"internal/testutil/syncbuf":  {},
	"internal/testutil/cputime":  {},
}

// testOnly are the fakes and helpers that no binary may link.
var testOnly = []string{
	"internal/nomad/nomadtest", "internal/gpu/nvmlmock", "internal/gpu/cthread",
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
	"github.com/hashicorp/hcl/v2":         {"internal/spec", "internal/compile", "internal/cli"},
	"github.com/prometheus/client_golang": {"internal/agent", "internal/autoscale", "internal/cli"},
	"gonum.org/v1/plot":                   {"internal/report"},
}

func under(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// packages reads the non-test imports of every package below the module
// root, in every build configuration (UseAllFiles: the cgo, agentonly and
// e2e files count too).
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
