package nomad_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Field-by-field comparison of a recorded Nomad answer with the fake's
// answer to the same request: the same keys at every level, and the same
// values except where they are identities, times or indexes (which differ
// between any two clusters), or where a test declares a value dynamic.

// volatile reports whether a key holds an ID, a time or an index.
func volatile(key string) bool {
	switch key {
	case "ID", "EvalID", "NodeID", "AllocID", "PrevAllocID", "PrevNodeID", "BlockedEval", "PreviousEval",
		"NextAllocation", "PreviousAllocation", "FollowupEvalID", "SecretID", "AccessorID", "SigningKeyID",
		"IdentitySigningKeyID", "ComputedClass", "HTTPAddr", "Key", "Uptime", "AllocationTime", "StatusDescription",
		"Index", "EvalIDs", "NormScore", "Scores":
		return true
	}
	for _, suf := range []string{"Index", "Time", "At", "Timestamp", "Deadline"} {
		if strings.HasSuffix(key, suf) {
			return true
		}
	}
	return false
}

// freeKeys are maps whose keys are data (node class hashes, device
// instance IDs): only their value shapes are compared.
var freeKeys = map[string]bool{"ClassEligibility": true, "InstanceStats": true}

type diffs []string

func (d *diffs) add(format string, a ...any) { *d = append(*d, fmt.Sprintf(format, a...)) }

// compareJSON compares want (recorded) and got (fake) at path. dynamic
// names keys whose values may differ (but whose shapes must not).
func compareJSON(d *diffs, path string, want, got any, dynamic map[string]bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if got == nil && len(w) == 0 {
				return
			}
			d.add("%s: want object, got %s", path, kind(got))
			return
		}
		if freeKeys[lastKey(path)] {
			var wv, gv any
			for _, v := range w {
				wv = v
				break
			}
			for _, v := range g {
				gv = v
				break
			}
			if wv != nil && gv != nil {
				compareJSON(d, path+".*", wv, gv, dynamic)
			}
			return
		}
		for _, k := range unionKeys(w, g) {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inG:
				d.add("%s.%s: missing in fake", path, k)
			case !inW:
				d.add("%s.%s: fake has a key Nomad lacks", path, k)
			case volatile(k) || dynamic[k]:
				compareShape(d, path+"."+k, wv, gv)
			default:
				compareJSON(d, path+"."+k, wv, gv, dynamic)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			d.add("%s: want array, got %s", path, kind(got))
			return
		}
		if len(w) != len(g) {
			d.add("%s: want %d elements, got %d", path, len(w), len(g))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			compareJSON(d, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], dynamic)
		}
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			d.add("%s: want %v, got %v", path, short(want), short(got))
		}
	}
}

// compareShape checks only that both sides have the same JSON kind (and,
// for objects, recursively the same keys); null matches anything because
// an unset ID is null in one answer and set in another.
func compareShape(d *diffs, path string, want, got any) {
	if want == nil || got == nil {
		return
	}
	if kind(want) != kind(got) {
		d.add("%s: want %s, got %s", path, kind(want), kind(got))
		return
	}
	if w, ok := want.(map[string]any); ok && !freeKeys[lastKey(path)] {
		g := got.(map[string]any)
		for _, k := range unionKeys(w, g) {
			if _, ok := g[k]; !ok {
				d.add("%s.%s: missing in fake", path, k)
			} else if _, ok := w[k]; !ok {
				d.add("%s.%s: fake has a key Nomad lacks", path, k)
			} else {
				compareShape(d, path+"."+k, w[k], g[k])
			}
		}
	}
}

func lastKey(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readFixture(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func decodeAny(t testing.TB, what string, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func TestCompareJSONCatchesDifferences(t *testing.T) {
	want := map[string]any{"A": 1.0, "ID": "x", "B": map[string]any{"C": "v"}}
	for name, got := range map[string]any{
		"missing key": map[string]any{"A": 1.0, "ID": "y"},
		"extra key":   map[string]any{"A": 1.0, "ID": "y", "B": map[string]any{"C": "v"}, "D": 1.0},
		"value":       map[string]any{"A": 2.0, "ID": "y", "B": map[string]any{"C": "v"}},
		"nested":      map[string]any{"A": 1.0, "ID": "y", "B": map[string]any{"C": "w"}},
	} {
		var d diffs
		compareJSON(&d, name, want, got, nil)
		if len(d) == 0 {
			t.Errorf("%s: no difference reported", name)
		}
	}
	var d diffs
	compareJSON(&d, "same", want, map[string]any{"A": 1.0, "ID": "other", "B": map[string]any{"C": "v"}}, nil)
	if len(d) != 0 {
		t.Errorf("IDs must not count: %v", d)
	}
}
