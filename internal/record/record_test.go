package record

import "testing"

func TestPathsRoundTrip(t *testing.T) {
	tests := []struct {
		ref  Ref
		path string
	}{
		{Ref{RunID: "train-1a2b3c4d"}, "caravan/runs/train-1a2b3c4d"},
		{Ref{Project: "vision", RunID: "train-1a2b3c4d"}, "caravan/projects/vision/runs/train-1a2b3c4d"},
	}
	for _, tt := range tests {
		if got := tt.ref.Path(); got != tt.path {
			t.Errorf("%+v.Path() = %q, want %q", tt.ref, got, tt.path)
		}
		p, id, ok := ParsePath(tt.path)
		if !ok || p != tt.ref.Project || id != tt.ref.RunID {
			t.Errorf("ParsePath(%q) = %q, %q, %v", tt.path, p, id, ok)
		}
		if _, _, ok := ParsePath(tt.ref.UsagePath()); ok {
			t.Errorf("ParsePath(%q) took a usage path for a record", tt.ref.UsagePath())
		}
	}
	for _, bad := range []string{"caravan/runs/", "caravan/projects/x/runs/", "caravan/projects//runs/r", "caravan/projects/x/other/r",
		"caravan/autoscaler/pools/a", "caravan/projects/x/runs/r/usage", "other/runs/r"} {
		if p, id, ok := ParsePath(bad); ok {
			t.Errorf("ParsePath(%q) = %q, %q, true; want not a record", bad, p, id)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	f.Add("caravan/projects/vision/runs/train-1a2b3c4d")
	f.Add("caravan/runs/x")
	f.Fuzz(func(t *testing.T, path string) {
		p, id, ok := ParsePath(path)
		if !ok {
			return
		}
		// Whatever parses names the same place again.
		if got := (Ref{Project: p, RunID: id}).Path(); got != path {
			t.Fatalf("ParsePath(%q) = %q, %q; its Path is %q", path, p, id, got)
		}
	})
}
