//go:build !agentonly

// These tests run in the default build: they build and inspect the
// agentonly one from outside.

package cli

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mainPkg = "github.com/caravan-ml/caravan/cmd/caravan"

// heavyForAgent are packages the agent does not need and that cost
// resident memory on every GPU machine when linked in. A trailing /...
// covers the packages below too.
var heavyForAgent = []string{
	"github.com/hashicorp/hcl/v2/...",
	"github.com/hashicorp/terraform-exec/...",
	"github.com/hashicorp/hc-install/...",
	"gonum.org/v1/plot/...",
	"github.com/caravan-ml/caravan/internal/spec",
	"github.com/caravan-ml/caravan/internal/compile",
	"github.com/caravan-ml/caravan/internal/gitops",
	"github.com/caravan-ml/caravan/internal/autoscale",
	"github.com/caravan-ml/caravan/internal/terraform",
	"github.com/caravan-ml/caravan/internal/sim",
	"github.com/caravan-ml/caravan/internal/report",
}

func goTool(t *testing.T) string {
	t.Helper()
	g, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	return g
}

func runGo(t *testing.T, g string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// TestAgentOnlyDeps checks that the slim agent build links none of the
// compiler, autoscaler, simulator or report packages: a new import in the
// agent's path, or a command file without `//go:build !agentonly`, would
// bring them back.
func TestAgentOnlyDeps(t *testing.T) {
	g := goTool(t)
	deps := strings.Fields(runGo(t, g, "list", "-tags", "agentonly", "-deps", mainPkg))
	has := func(p string) bool {
		root, tree := strings.CutSuffix(p, "/...")
		for _, d := range deps {
			if d == root || tree && strings.HasPrefix(d, root+"/") {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"github.com/caravan-ml/caravan/internal/agent", "github.com/caravan-ml/caravan/internal/gpu", mainPkg} {
		if !has(p) {
			t.Errorf("the agentonly build lacks %s; deps:\n%s", p, strings.Join(deps, "\n"))
		}
	}
	for _, p := range heavyForAgent {
		if has(p) {
			root, _ := strings.CutSuffix(p, "/...")
			t.Errorf("the agentonly build links %s; find the import with: go list -tags agentonly -deps -f '{{.ImportPath}}: {{.Imports}}' %s | grep %s", p, mainPkg, root)
		}
	}
}

// TestAgentOnlyBuild builds the slim binary and checks its usage lists the
// agent and version commands and nothing else.
func TestAgentOnlyBuild(t *testing.T) {
	g := goTool(t)
	bin := filepath.Join(t.TempDir(), "caravan-agent")
	runGo(t, g, "build", "-tags", "agentonly", "-o", bin, mainPkg)
	out, err := exec.Command(bin, "-h").Output()
	if err != nil {
		t.Fatalf("caravan-agent -h: %v", err)
	}
	got := listedCommands(string(out))
	if want := []string{"agent", "version"}; !slices.Equal(got, want) {
		t.Errorf("agentonly build lists commands %v, want %v; usage:\n%s", got, want, out)
	}
	out, err = exec.Command(bin, "agent", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-listen") {
		t.Errorf("caravan-agent agent -h: %v\n%s", err, out)
	}
}

// listedCommands reads the command names from the usage text.
func listedCommands(usage string) []string {
	_, list, _ := strings.Cut(usage, "Commands:\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		names = append(names, strings.Fields(line)[0])
	}
	return names
}

// TestFullBuildRegistersEveryCommand checks the default build registers
// every command that a file of this package declares, so that the
// agentonly tag never leaks into the full binary.
func TestFullBuildRegistersEveryCommand(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var declared []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "command" {
				return true
			}
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "name" {
					if v, ok := kv.Value.(*ast.BasicLit); ok {
						if s, err := strconv.Unquote(v.Value); err == nil {
							declared = append(declared, s)
						}
					}
				}
			}
			return true
		})
	}
	if len(declared) < 10 {
		t.Fatalf("found only %d command declarations (%v); the scan is broken", len(declared), declared)
	}
	for _, name := range declared {
		if _, ok := commands[name]; !ok {
			t.Errorf("command %q is declared but not registered in the default build", name)
		}
	}
	r := execCaravan(t, nil, "", "-h")
	slices.Sort(declared)
	if got := listedCommands(r.stdout); !slices.Equal(got, declared) {
		t.Errorf("usage lists %v, want %v", got, declared)
	}
}
