package internal

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxFuncLines is the longest a non-test function may be, counted from
// `func` to its closing brace: past it a reader can no longer hold the
// function in view, and its steps deserve names.
const maxFuncLines = 80

// funcLenRoots are the directories, with their subpackages, whose non-test
// functions must stay within maxFuncLines.
var funcLenRoots = []string{"autoscale", "cli", "report", "spec"}

// longFuncs are the functions still over maxFuncLines, with the length
// each may not exceed. It is a temporary exception that must shrink to
// empty: remove an entry once its function is split. A function on it that
// grows, or a new long function, fails the test.
var longFuncs = map[string]int{
	"cli/autoscale.go:runAutoscale": 122,
	"cli/status.go:poolStatuses":    118,
	"report/classify.go:classify":   121,
	"report/text.go:WriteText":      116,
}

func TestFunctionsStayShort(t *testing.T) {
	lengths := funcLengths(t, funcLenRoots)
	if len(lengths) < 100 {
		t.Fatalf("found %d functions: the walk did not find the packages", len(lengths))
	}
	for _, name := range slices.Sorted(maps.Keys(lengths)) {
		n := lengths[name]
		if n <= maxFuncLines {
			continue
		}
		limit, excepted := longFuncs[name]
		switch {
		case !excepted:
			t.Errorf("%s is %d lines, over %d: split it into named steps", name, n, maxFuncLines)
		case n > limit:
			t.Errorf("%s grew to %d lines (at most %d, and it is due to be split under %d): split it rather than grow it", name, n, limit, maxFuncLines)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(longFuncs)) {
		if n, ok := lengths[name]; !ok || n <= maxFuncLines {
			t.Errorf("%s is no longer over %d lines: remove it from longFuncs in internal/funclen_test.go", name, maxFuncLines)
		}
	}
}

// funcLengths measures every function with a body in the non-test Go files
// under roots (relative to internal/), keyed "dir/file.go:Func" or
// "dir/file.go:(*Recv).Method".
func funcLengths(t *testing.T, roots []string) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]int{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				out[filepath.ToSlash(path)+":"+funcName(fd)] = lines
			}
			return nil
		})
		if err != nil {
			t.Fatalf("measuring functions under internal/%s: %v", root, err)
		}
	}
	return out
}

// funcName is fd's name, with its receiver type for a method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	return fmt.Sprintf("(%s).%s", recvType(fd.Recv.List[0].Type), fd.Name.Name)
}

func recvType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return "*" + recvType(e.X)
	case *ast.IndexExpr: // a generic receiver, T[P]
		return recvType(e.X)
	case *ast.IndexListExpr:
		return recvType(e.X)
	case *ast.Ident:
		return e.Name
	}
	return fmt.Sprintf("%T", e)
}
