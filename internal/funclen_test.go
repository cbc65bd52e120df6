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
var funcLenRoots = []string{"agent", "autoscale", "cli", "compile", "controller", "gitops", "query", "record", "report", "sim", "spec", "terraform"}

func TestFunctionsStayShort(t *testing.T) {
	lengths := funcLengths(t, funcLenRoots)
	if len(lengths) < 100 {
		t.Fatalf("found %d functions: the walk did not find the packages", len(lengths))
	}
	for _, name := range slices.Sorted(maps.Keys(lengths)) {
		if n := lengths[name]; n > maxFuncLines {
			t.Errorf("%s is %d lines, over %d: split it into named steps", name, n, maxFuncLines)
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
