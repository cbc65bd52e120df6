package nomad_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Judging a difference between Nomad's answer and the fake's: which keys
// of Nomad's answers does caravan read?
//
// caravan decodes Nomad's answers into the api package's types and reads
// their fields by name (a.ClientStatus, e.Status, n.NodeResources) or, for
// the maps of those types, by string (stats["client"]["node_id"]). So a
// key is read when some non-test Go file of caravan's (cmd/ and internal/,
// the fake itself excepted) selects a field of that name, or has that
// string. The scan is by name, not by type: a key
// counts as read as soon as any selector anywhere has its name, which errs
// towards failing; so does counting every string in code that looks like
// a key (a map read through a helper, str(cfg, "DataDir"), is a read).
// Decoding both answers into the api types and comparing
// the values was the other way; it would not say whether caravan reads a
// field, only that one exists, and would pass on a key the fake invents.
// Where the api package names a field otherwise than its key (IntVal for
// "Int"), the key is read when the field is. Keys only passed through
// whole (the JSON dumps of `caravan show -json`) are not reads: a
// difference there is logged, not failed.

var (
	readOnce sync.Once
	readSet  map[string]bool
	readErr  error
)

// caravanReads is the set of names caravan's non-test code reads, lower
// case (encoding/json matches keys to fields without regard to case).
func caravanReads(t testing.TB) map[string]bool {
	t.Helper()
	readOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			readErr = err
			return
		}
		readSet, readErr = scanReads(root, "cmd", "internal")
		if readErr != nil {
			return
		}
		var aliases map[string][]string
		if aliases, readErr = apiKeyAliases(); readErr != nil {
			return
		}
		for field, keys := range aliases {
			if readSet[field] {
				for _, k := range keys {
					readSet[k] = true
				}
			}
		}
	})
	if readErr != nil {
		t.Fatalf("scan caravan's source for the keys it reads: %v", readErr)
	}
	return readSet
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", os.ErrNotExist
		}
		d = up
	}
}

// scanReads parses every non-test .go file under root/dirs except the
// fake's (whose string-indexed writes of Nomad's keys are not reads) and
// collects field selectors and string map indexes.
func scanReads(root string, dirs ...string) (map[string]bool, error) {
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "nomadtest" || d.Name() == "testdata" {
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
			collectReads(f, out)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// apiKeyAliases maps the api package's fields (lower case) to the JSON
// keys their tags give them where those differ from the field's name.
func apiKeyAliases() (map[string][]string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/hashicorp/nomad/api").Output()
	if err != nil {
		return nil, fmt.Errorf("find the nomad api module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	aliases := map[string][]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				if fl.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(fl.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				for _, id := range fl.Names {
					if name != "" && name != "-" && !strings.EqualFold(name, id.Name) {
						k := strings.ToLower(id.Name)
						aliases[k] = append(aliases[k], strings.ToLower(name))
					}
				}
			}
			return true
		})
	}
	return aliases, nil
}

// keyLike is what a JSON key of Nomad's looks like: a Go-like name, maybe
// dotted (kernel.name).
var keyLike = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

func collectReads(f *ast.File, out map[string]bool) {
	pkgs := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		pkgs[name] = true
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			// api.Job names a type, fmt.Sprintf a function: not fields.
			if id, ok := n.X.(*ast.Ident); ok && pkgs[id.Name] {
				return true
			}
			out[strings.ToLower(n.Sel.Name)] = true
		case *ast.BasicLit:
			// m["node_id"], and str(cfg, "DataDir") for a helper that
			// indexes: any string in code that could be a key.
			if n.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(n.Value); err == nil && keyLike.MatchString(s) {
				out[strings.ToLower(s)] = true
			}
		}
		return true
	})
}

// verdict sorts the differences of one answer: those that fail the test
// (a key or a type the fake invents, and a missing key, a different value
// or a different number of elements under a key caravan reads) and those
// only worth a log line.
func verdict(d diffs, reads map[string]bool) (fail, log []diff) {
	for _, x := range d {
		switch {
		case x.Kind == diffExtra || x.Kind == diffType:
			fail = append(fail, x)
		case x.Key() == "" || reads[strings.ToLower(x.Key())]:
			fail = append(fail, x)
		default:
			log = append(log, x)
		}
	}
	return fail, log
}

func TestCaravanReadsWhatItSelects(t *testing.T) {
	reads := caravanReads(t)
	// Fields caravan's logic certainly reads: a run's state comes from
	// them (record.RunState), the autoscaler places by them.
	for _, k := range []string{"ClientStatus", "TaskStates", "FailedTGAllocs", "NodePool", "DeviceIDs", "NextToken", "exit_code"} {
		if !reads[strings.ToLower(k)] {
			t.Errorf("%s: not found among the keys caravan reads", k)
		}
	}
	// api.Attribute's IntVal is the key "Int" on the wire.
	aliases, err := apiKeyAliases()
	if err != nil || !slices.Contains(aliases["intval"], "int") {
		t.Errorf("IntVal's key: %v %v", aliases["intval"], err)
	}
	// A package-qualified name is not a field read; a comment is not code.
	for _, k := range []string{"Sprintf", "NewDecoder", "VaultConfiguration"} {
		if reads[strings.ToLower(k)] {
			t.Errorf("%s counted as a key caravan reads", k)
		}
	}
}

func TestVerdictFailsOnlyOnWhatCaravanReads(t *testing.T) {
	reads := map[string]bool{"clientstatus": true, "events": true}
	want := map[string]any{"ClientStatus": "complete", "Unread": 1.0, "TaskStates": map[string]any{
		"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}
	for _, tt := range []struct {
		name string
		got  map[string]any
		fail bool
	}{
		{"read key missing", map[string]any{"Unread": 1.0, "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}, true},
		{"unread key missing", map[string]any{"ClientStatus": "complete", "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}, false},
		{"read value differs", map[string]any{"ClientStatus": "failed", "Unread": 1.0, "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}, true},
		{"unread value differs", map[string]any{"ClientStatus": "complete", "Unread": 2.0, "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "y"}}}, false},
		{"read list shorter", map[string]any{"ClientStatus": "complete", "Unread": 1.0, "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a"}, "Unread2": "x"}}}, true},
		{"invented key", map[string]any{"ClientStatus": "complete", "Unread": 1.0, "Invented": true, "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}, true},
		{"unread key of another type", map[string]any{"ClientStatus": "complete", "Unread": "1", "TaskStates": map[string]any{"train": map[string]any{"Events": []any{"a", "b"}, "Unread2": "x"}}}, true},
	} {
		var d diffs
		compareWith(&d, tt.name, want, tt.got, compareOpts{free: map[string]bool{"TaskStates": true}})
		fail, _ := verdict(d, reads)
		if (len(fail) > 0) != tt.fail {
			t.Errorf("%s: failing differences %v, want failure %v (all: %v)", tt.name, fail, tt.fail, d)
		}
	}
}

func TestCollectReadsFindsSelectorsAndKeys(t *testing.T) {
	src := `package x
import "fmt"
// Comment says NotCode.
func f(self map[string]any, a alloc) {
	_ = a.ClientStatus
	_ = self["node_id"]
	_ = str(self, "DataDir")
	fmt.Println("two words", fmt.Sprintf("%d", 1))
}`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	collectReads(f, got)
	for _, k := range []string{"clientstatus", "node_id", "datadir"} {
		if !got[k] {
			t.Errorf("%s not read in %v", k, got)
		}
	}
	for _, k := range []string{"println", "sprintf", "notcode", "two words"} {
		if got[k] {
			t.Errorf("%s counted as read", k)
		}
	}
}
