package nomad_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// diffKind says what kind of difference a diff is, so that a caller can
// weigh them: an invented key or a type mismatch is always wrong, a
// missing key or a different value matters where caravan reads the key.
type diffKind int

const (
	diffMissing diffKind = iota // Nomad has the key, the fake does not
	diffExtra                   // the fake has a key Nomad lacks
	diffType                    // both have it, with different JSON kinds
	diffValue                   // both have it, with different values
	diffLength                  // arrays of different lengths
)

// diff is one difference between Nomad's answer (want) and the fake's (got).
type diff struct {
	Path string
	Kind diffKind
	Msg  string
}

func (x diff) String() string { return x.Path + ": " + x.Msg }

// Key is the object key the difference is under: the last name on the
// path, array indexes dropped; "" for a difference at the top of a path
// rooted at "$".
func (x diff) Key() string {
	p := x.Path
	for strings.HasSuffix(p, "]") && !strings.HasSuffix(p, `"]`) {
		p = p[:strings.LastIndexByte(p, '[')] // an array index
	}
	if strings.HasSuffix(p, `"]`) {
		// A key with a dot, written ["driver.java"] (see childPath).
		if i := strings.LastIndex(p, `["`); i >= 0 {
			if k, err := strconv.Unquote(p[i+1 : len(p)-1]); err == nil {
				return k
			}
		}
	}
	k := lastKey(p)
	if k == "$" {
		return ""
	}
	return k
}

// childPath is the path of key k under path: path.k, or path["k"] when k
// holds a dot (node attributes: "driver.java"), so that Key reads it back.
func childPath(path, k string) string {
	if strings.ContainsAny(k, `.[]"`) {
		return path + "[" + strconv.Quote(k) + "]"
	}
	return path + "." + k
}

type diffs []diff

func (d *diffs) add(path string, kind diffKind, format string, a ...any) {
	*d = append(*d, diff{Path: path, Kind: kind, Msg: fmt.Sprintf(format, a...)})
}

// compareOpts say which keys hold values that may differ (dynamic: only
// their shapes are compared), which maps have data for keys (free: their
// values are compared under the keys both have), and which lists hold
// values that may differ in a list whose length may not (counted: e.g.
// the device instances an allocation got, which depend on which were free).
type compareOpts struct {
	dynamic map[string]bool
	free    map[string]bool
	counted map[string]bool
}

// compareJSON compares want (recorded) and got (fake) at path. dynamic
// names keys whose values may differ (but whose shapes must not).
func compareJSON(d *diffs, path string, want, got any, dynamic map[string]bool) {
	compareWith(d, path, want, got, compareOpts{dynamic: dynamic, free: freeKeys})
}

func compareWith(d *diffs, path string, want, got any, o compareOpts) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			switch {
			case got == nil && len(w) == 0:
			case got == nil:
				d.add(path, diffValue, "want an object, got null")
			default:
				d.add(path, diffType, "want object, got %s", kind(got))
			}
			return
		}
		if o.free[lastKey(path)] {
			freeMap(d, path, w, g, func(p string, wv, gv any) {
				if k := lastKey(p); volatile(k) || o.dynamic[k] {
					shapeWith(d, p, wv, gv, o.free)
				} else {
					compareWith(d, p, wv, gv, o)
				}
			})
			return
		}
		for _, k := range unionKeys(w, g) {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inG:
				d.add(childPath(path, k), diffMissing, "missing in fake")
			case !inW:
				d.add(childPath(path, k), diffExtra, "fake has a key Nomad lacks")
			case o.counted[k]:
				wl, _ := wv.([]any)
				gl, _ := gv.([]any)
				if len(wl) != len(gl) {
					d.add(childPath(path, k), diffLength, "want %d elements, got %d", len(wl), len(gl))
				}
				shapeWith(d, childPath(path, k), wv, gv, o.free)
			case volatile(k) || o.dynamic[k]:
				shapeWith(d, childPath(path, k), wv, gv, o.free)
			default:
				compareWith(d, childPath(path, k), wv, gv, o)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			switch {
			case got == nil && len(w) == 0:
			case got == nil:
				d.add(path, diffValue, "want %d elements, got null", len(w))
			default:
				d.add(path, diffType, "want array, got %s", kind(got))
			}
			return
		}
		if len(w) != len(g) {
			d.add(path, diffLength, "want %d elements, got %d", len(w), len(g))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			compareWith(d, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], o)
		}
	default:
		if want == nil && empty(got) {
			return // null and an empty list or map decode alike
		}
		// null is no value rather than another type: a difference of value.
		if want != nil && got != nil && kind(want) != kind(got) {
			d.add(path, diffType, "want %s, got %s", kind(want), kind(got))
		} else if fmt.Sprint(want) != fmt.Sprint(got) {
			d.add(path, diffValue, "want %v, got %v", short(want), short(got))
		}
	}
}

// compareShape checks only that both sides have the same JSON kind (and,
// for objects, recursively the same keys); null matches anything because
// an unset ID is null in one answer and set in another.
func compareShape(d *diffs, path string, want, got any) {
	shapeWith(d, path, want, got, freeKeys)
}

func shapeWith(d *diffs, path string, want, got any, free map[string]bool) {
	if want == nil || got == nil {
		return
	}
	if kind(want) != kind(got) {
		d.add(path, diffType, "want %s, got %s", kind(want), kind(got))
		return
	}
	w, ok := want.(map[string]any)
	if !ok {
		return
	}
	g := got.(map[string]any)
	if free[lastKey(path)] {
		freeMap(d, path, w, g, func(p string, wv, gv any) { shapeWith(d, p, wv, gv, free) })
		return
	}
	for _, k := range unionKeys(w, g) {
		_, inW := w[k]
		_, inG := g[k]
		switch {
		case !inG:
			d.add(childPath(path, k), diffMissing, "missing in fake")
		case !inW:
			d.add(childPath(path, k), diffExtra, "fake has a key Nomad lacks")
		default:
			shapeWith(d, childPath(path, k), w[k], g[k], free)
		}
	}
}

// freeMap compares the values of a map whose keys are data, with cmp:
// those under the keys both have, or else (keys that are IDs or hashes)
// one value of each. Where some keys are common the keys are names, and
// one only one side has is a difference of value (data, not schema).
func freeMap(d *diffs, path string, w, g map[string]any, cmp func(path string, want, got any)) {
	var common []string
	for _, k := range unionKeys(w, g) {
		_, inW := w[k]
		_, inG := g[k]
		if inW && inG {
			common = append(common, k)
		}
	}
	if len(common) == 0 {
		if len(w) > 0 && len(g) > 0 {
			cmp(path+".*", w[unionKeys(w, nil)[0]], g[unionKeys(g, nil)[0]])
		}
		return
	}
	for _, k := range unionKeys(w, g) {
		_, inW := w[k]
		_, inG := g[k]
		switch {
		case inW && inG:
			cmp(childPath(path, k), w[k], g[k])
		case inW:
			d.add(childPath(path, k), diffValue, "Nomad has this entry, the fake does not")
		default:
			d.add(childPath(path, k), diffValue, "the fake has this entry, Nomad does not")
		}
	}
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
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
	want := map[string]any{"A": 1.0, "ID": "x", "B": map[string]any{"C": "v"}, "L": []any{1.0}}
	for _, tt := range []struct {
		name string
		got  map[string]any
		kind diffKind
		key  string
	}{
		{"missing key", map[string]any{"A": 1.0, "ID": "y", "L": []any{1.0}}, diffMissing, "B"},
		{"extra key", map[string]any{"A": 1.0, "ID": "y", "B": map[string]any{"C": "v"}, "L": []any{1.0}, "D": 1.0}, diffExtra, "D"},
		{"value", map[string]any{"A": 2.0, "ID": "y", "B": map[string]any{"C": "v"}, "L": []any{1.0}}, diffValue, "A"},
		{"type", map[string]any{"A": "1", "ID": "y", "B": map[string]any{"C": "v"}, "L": []any{1.0}}, diffType, "A"},
		{"nested", map[string]any{"A": 1.0, "ID": "y", "B": map[string]any{"C": "w"}, "L": []any{1.0}}, diffValue, "C"},
		{"length", map[string]any{"A": 1.0, "ID": "y", "B": map[string]any{"C": "v"}, "L": []any{1.0, 2.0}}, diffLength, "L"},
		{"ID type", map[string]any{"A": 1.0, "ID": 7.0, "B": map[string]any{"C": "v"}, "L": []any{1.0}}, diffType, "ID"},
	} {
		var d diffs
		compareJSON(&d, tt.name, want, tt.got, nil)
		if len(d) != 1 || d[0].Kind != tt.kind || d[0].Key() != tt.key {
			t.Errorf("%s: want one difference of kind %d at %s, got %v", tt.name, tt.kind, tt.key, d)
		}
	}
	var d diffs
	compareJSON(&d, "same", want, map[string]any{"A": 1.0, "ID": "other", "B": map[string]any{"C": "v"}, "L": []any{1.0}}, nil)
	if len(d) != 0 {
		t.Errorf("IDs must not count: %v", d)
	}
}

func TestCountedListsCompareLengthNotValues(t *testing.T) {
	o := compareOpts{counted: map[string]bool{"DeviceIDs": true}}
	want := map[string]any{"DeviceIDs": []any{"gpu1"}}
	var d diffs
	compareWith(&d, "$", want, map[string]any{"DeviceIDs": []any{"gpu0"}}, o)
	if len(d) != 0 {
		t.Errorf("another free GPU: %v", d)
	}
	compareWith(&d, "$", want, map[string]any{"DeviceIDs": []any{"gpu0", "gpu1"}}, o)
	if len(d) != 1 || d[0].Kind != diffLength {
		t.Errorf("two GPUs for one: %v", d)
	}
}

func TestDiffKeyOfDottedAndIndexedPaths(t *testing.T) {
	for path, want := range map[string]string{
		"$":                                      "",
		"$[3]":                                   "",
		"$.TaskStates.train.Events[2]":           "Events",
		childPath("$.Attributes", "driver.java"): "driver.java",
		childPath("$.Attributes", "driver.java") + "[0]": "driver.java",
		childPath("$.Meta", "plain"):                     "plain",
	} {
		if got := (diff{Path: path}).Key(); got != want {
			t.Errorf("Key of %s: %q, want %q", path, got, want)
		}
	}
}
