package record

import "testing"

func TestGatePaths(t *testing.T) {
	for _, tc := range []struct {
		ref  GateRef
		path string
	}{
		{GateRef{Project: "vision", RunID: "train-1234abcd"}, "caravan/gates/vision/train-1234abcd"},
		{GateRef{RunID: "train-1234abcd"}, "caravan/gates/_/train-1234abcd"},
	} {
		if got := tc.ref.Path(); got != tc.path {
			t.Errorf("%+v: path %s, want %s", tc.ref, got, tc.path)
		}
		p, id, ok := ParseGatePath(tc.path)
		if !ok || p != tc.ref.Project || id != tc.ref.RunID {
			t.Errorf("%s parses to %q %q %v", tc.path, p, id, ok)
		}
	}
	for _, bad := range []string{"caravan/gates/", "caravan/gates/vision", "caravan/gates/vision/", "caravan/gates/Vision/x",
		"caravan/gates/vision/a/b", "caravan/projects/vision/runs/x", "caravan/gates//x"} {
		if _, _, ok := ParseGatePath(bad); ok {
			t.Errorf("%q parses as a gate path", bad)
		}
	}
}

// FuzzParseGatePath: whatever parses is a path that Path gives back.
func FuzzParseGatePath(f *testing.F) {
	for _, s := range []string{"caravan/gates/vision/train-1", "caravan/gates/_/x", "caravan/gates/a/b/c", "caravan/gates/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, id, ok := ParseGatePath(s)
		if !ok {
			return
		}
		if back := (GateRef{Project: p, RunID: id}).Path(); back != s {
			t.Fatalf("%q parses to %q %q, which is %q", s, p, id, back)
		}
	})
}
