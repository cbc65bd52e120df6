package internal

import (
	"bufio"
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pure are the packages that must stay free of I/O, so that they can be
// tested exhaustively and replayed by the simulator: no clocks, network or
// files of their own, and none of the packages in impure, not even through
// another package.
var pure = []string{
	"internal/record", "internal/spec", "internal/compile",
	"internal/autoscale/decide", "internal/gitops/plan", "internal/report/triage",
}

// typesOnly are the packages a pure package may import for their types
// alone. github.com/hashicorp/nomad/api holds Nomad's HTTP client in the
// same package as the job, allocation and event types that compile, plan
// and triage work on, so no import check can tell the two apart: the
// purity walk stops at it, and TestPureCoresUseNomadTypesOnly checks what
// the pure packages name from it instead.
var typesOnly = []string{nomadAPI}

const nomadAPI = "github.com/hashicorp/nomad/api"

// impure are the packages that talk to outside systems or hold their
// clients, metrics, device libraries or plotting: a pure package that
// reaches one of them, by any chain of imports, is pure no more.
var impure = []string{
	module + "internal/nomad", module + "internal/terraform", module + "internal/agent", module + "internal/cli",
	"github.com/hashicorp/terraform-exec", "github.com/hashicorp/terraform-json", "github.com/hashicorp/hc-install",
	"github.com/prometheus/client_golang", "github.com/NVIDIA/go-nvml", "gonum.org/v1/plot",
	"github.com/hashicorp/go-cleanhttp", module + "internal/registry", "github.com/google/go-containerregistry",
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
	for _, p := range typesOnly {
		g[p] = nil
	}
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

// TestPureCoresUseNomadTypesOnly checks that the pure packages name only
// types and constants of Nomad's api package, and none of the types that
// hold its HTTP client: no api.NewClient, no api.Client and its methods,
// no api.Jobs or other endpoint a client hands out.
func TestPureCoresUseNomadTypesOnly(t *testing.T) {
	allowed := nomadAPITypes(t)
	if len(allowed) < 100 || allowed["Client"] || allowed["Jobs"] || !allowed["Job"] {
		t.Fatalf("read %d names from %s, which does not look like Nomad's api package", len(allowed), nomadAPI)
	}
	for _, pkg := range pure {
		files := parseDir(t, pkg)
		for _, bad := range nomadAPIMisuse(files, allowed) {
			t.Errorf("%s/%s: pure packages may use %s for its types only; move the call to the I/O edge", pkg, bad, nomadAPI)
		}
	}
}

// nomadAPITypes are the exported types and constants of Nomad's api
// package, less Client and every type with a *Client field (the endpoints
// whose methods make HTTP calls).
func nomadAPITypes(t *testing.T) map[string]bool {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("finding %s needs the go command, which is not on PATH: %v", nomadAPI, err)
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-f", "{{.Dir}}", nomadAPI).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", nomadAPI, err)
	}
	fset := token.NewFileSet()
	dir := strings.TrimSpace(string(out))
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return typesAndConsts(files)
}

// typesAndConsts are the exported type and constant names files declare,
// less Client and the struct types with a *Client field.
func typesAndConsts(files []*ast.File) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Name.Name != "Client" && !holdsClient(s.Type) {
						out[s.Name.Name] = true
					}
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for _, n := range s.Names {
						if n.IsExported() {
							out[n.Name] = true
						}
					}
				}
			}
		}
	}
	return out
}

// holdsClient says whether a struct type has a field of type *Client.
func holdsClient(e ast.Expr) bool {
	st, ok := e.(*ast.StructType)
	if !ok {
		return false
	}
	for _, f := range st.Fields.List {
		if star, ok := f.Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "Client" {
				return true
			}
		}
	}
	return false
}

// parseDir parses the non-test Go files of pkg, relative to the module
// root.
func parseDir(t *testing.T, pkg string) map[string]*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = f
	}
	if len(files) == 0 {
		t.Fatalf("%s has no Go files", pkg)
	}
	return files
}

// nomadAPIMisuse lists, as "file: api.Name", every name files take from
// Nomad's api package that allowed does not hold; a dot import of the
// package counts as one.
func nomadAPIMisuse(files map[string]*ast.File, allowed map[string]bool) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f := files[name]
		local := ""
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path != nomadAPI {
				continue
			}
			local = "api"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
		switch local {
		case "":
			continue
		case ".", "_":
			out = append(out, name+": "+local+" import")
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !allowed[sel.Sel.Name] {
				out = append(out, name+": "+local+"."+sel.Sel.Name)
			}
			return true
		})
	}
	return out
}

func TestNomadAPIMisuse(t *testing.T) {
	const apiSrc = `package api
type Client struct{}
type Jobs struct{ client *Client }
type Job struct{ ID *string }
const TaskStarted = "Started"
var DefaultTimeout = 1
func NewClient() (*Client, error) { return nil, nil }
`
	fset := token.NewFileSet()
	parse := func(src string) *ast.File {
		f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	allowed := typesAndConsts([]*ast.File{parse(apiSrc)})
	if want := map[string]bool{"Job": true, "TaskStarted": true}; !maps.Equal(allowed, want) {
		t.Fatalf("typesAndConsts = %v, want %v", allowed, want)
	}
	tests := []struct {
		src  string
		want []string
	}{
		{`package p; import "github.com/hashicorp/nomad/api"; func f(j *api.Job) string { return api.TaskStarted }`, nil},
		{`package p; import "github.com/hashicorp/nomad/api"; func f() { c, _ := api.NewClient(); _ = c }`, []string{"x.go: api.NewClient"}},
		{`package p; import "github.com/hashicorp/nomad/api"; func f(c *api.Client) { c.Jobs() }`, []string{"x.go: api.Client"}},
		{`package p; import nomad "github.com/hashicorp/nomad/api"; func f(j *nomad.Jobs) {}`, []string{"x.go: nomad.Jobs"}},
		{`package p; import "github.com/hashicorp/nomad/api"; var d = api.DefaultTimeout`, []string{"x.go: api.DefaultTimeout"}},
		{`package p; import . "github.com/hashicorp/nomad/api"; var _ Job`, []string{"x.go: . import"}},
		{`package p; import "other/api"; var _ = api.NewClient`, nil},
	}
	for _, tt := range tests {
		got := nomadAPIMisuse(map[string]*ast.File{"x.go": parse(tt.src)}, allowed)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.src, got, tt.want)
		}
	}
}
