package internal

import (
	"bufio"
	"bytes"
	"context"
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
	"time"
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
	"internal/nomad/nomadtest":   {},
	"internal/gpu/nvmlmock":      {},
	"internal/testutil/golden":   {},
	"internal/testutil/sweepdir": {},
	"internal/testutil/syncbuf":  {},
	"internal/testutil/cputime":  {},
}

// testOnly are the fakes and helpers that no binary may link.
var testOnly = []string{
	"internal/nomad/nomadtest", "internal/gpu/nvmlmock",
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

// pure are the packages that must stay free of I/O, so that they can be
// tested exhaustively and replayed by the simulator: no clocks, network or
// files of their own, and none of the packages in impure, not even through
// another package. internal/compile is pure too, but it builds Nomad's
// api.Job, and github.com/hashicorp/nomad/api holds its HTTP client in the
// same package as its types, so no import check can tell the two apart.
var pure = []string{"internal/record", "internal/spec", "internal/autoscale/decide"}

// impure are the packages that talk to outside systems or hold their
// clients, metrics, device libraries or plotting: a pure package that
// reaches one of them, by any chain of imports, is pure no more.
var impure = []string{
	module + "internal/nomad", module + "internal/terraform", module + "internal/agent", module + "internal/cli",
	"github.com/hashicorp/terraform-exec", "github.com/hashicorp/terraform-json", "github.com/hashicorp/hc-install",
	"github.com/prometheus/client_golang", "github.com/NVIDIA/go-nvml", "gonum.org/v1/plot",
	"github.com/hashicorp/go-cleanhttp", module + "internal/registry", "github.com/google/go-containerregistry",
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
func TestPureCoresStayPure(t *testing.T) {
	local := packages(t)
	var roots []string
	for _, p := range pure {
		if _, ok := local[p]; !ok {
			t.Errorf("pure names %s, which has no Go package: remove it", p)
			continue
		}
		roots = append(roots, module+p)
	}
	g := importGraph(t, local, roots)
	for _, p := range roots {
		if chain := impureChain(g, p, impure); chain != nil {
			for i := range chain {
				chain[i] = strings.TrimPrefix(chain[i], module)
			}
			t.Errorf("%s must stay pure, but it reaches %s through %s: move the code that needs it to the I/O edge",
				chain[0], chain[len(chain)-1], strings.Join(chain, " -> "))
		}
	}
}

// importGraph maps each package reachable from roots to its non-test
// imports, by full import path: the module's packages as packages() read
// them (every build configuration), the rest as `go list -deps` resolves
// them for this machine.
func importGraph(t *testing.T, local map[string][]string, roots []string) map[string][]string {
	t.Helper()
	g := map[string][]string{}
	for rel, imps := range local {
		if rel == "." {
			rel = ""
		}
		g[strings.TrimSuffix(module+rel, "/")] = imps
	}
	// The packages outside the module that the roots import, directly or
	// through the module's own packages.
	var outside []string
	seen := map[string]bool{}
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] || p == "C" {
			continue
		}
		seen[p] = true
		imps, ok := g[p]
		if !ok {
			outside = append(outside, p)
			continue
		}
		stack = append(stack, imps...)
	}
	if len(outside) == 0 {
		return g
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the purity check lists imports with the go command, which is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args := append([]string{"list", "-e", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, outside...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps of the pure packages' imports: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if _, ok := g[f[0]]; !ok {
			g[f[0]] = f[1:]
		}
	}
	for _, p := range outside {
		if _, ok := g[p]; !ok {
			t.Fatalf("go list did not list %s, which a pure package reaches: its imports are unknown", p)
		}
	}
	return g
}

// impureChain is the shortest chain of imports in g from pkg to a package
// under one of bad, pkg first; nil when there is none.
func impureChain(g map[string][]string, pkg string, bad []string) []string {
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if slices.ContainsFunc(bad, func(b string) bool { return under(p, b) }) {
			var chain []string
			for ; p != ""; p = from[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range g[p] {
			if _, ok := from[q]; !ok {
				from[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

func TestImpureChain(t *testing.T) {
	g := map[string][]string{
		"m/pure":   {"fmt", "m/spec", "m/util"},
		"m/spec":   {"ext/hcl"},
		"m/util":   {"m/deep"},
		"m/deep":   {"ext/client/sub"},
		"m/loop":   {"m/loop", "m/pure"},
		"m/direct": {"m/util", "ext/client"},
		"ext/hcl":  {"fmt"},
	}
	bad := []string{"ext/client"}
	tests := []struct {
		pkg  string
		want []string
	}{
		{"m/spec", nil},
		{"m/pure", []string{"m/pure", "m/util", "m/deep", "ext/client/sub"}},
		{"m/direct", []string{"m/direct", "ext/client"}},
		{"m/loop", []string{"m/loop", "m/pure", "m/util", "m/deep", "ext/client/sub"}},
		{"ext/client", []string{"ext/client"}},
		{"missing", nil},
	}
	for _, tt := range tests {
		if got := impureChain(g, tt.pkg, bad); !slices.Equal(got, tt.want) {
			t.Errorf("impureChain(%s) = %v, want %v", tt.pkg, got, tt.want)
		}
	}
	// "ext/clientele" is not under "ext/client".
	if got := impureChain(map[string][]string{"a": {"ext/clientele"}}, "a", bad); got != nil {
		t.Errorf("a prefix of a path that is not its parent counted as impure: %v", got)
	}
}
