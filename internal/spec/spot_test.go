package spec

import (
	"testing"
)

// spot_fallback names a declared on-demand pool and sits on a spot pool;
// each mistake is a diagnostic at the attribute that makes it.
func TestSpotFallback(t *testing.T) {
	const ok = `pool "a100" {}
pool "a100-spot" {
  spot                 = true
  spot_fallback        = "a100"
  spot_max_preemptions = 3
}
`
	cfg := mustLoad(t, ok, LoadOptions{})
	if p := cfg.Pools["a100-spot"]; p.SpotFallback != "a100" || p.MaxPreemptions() != 3 {
		t.Errorf("spot pool: fallback %q after %d preemptions", p.SpotFallback, p.MaxPreemptions())
	}
	if p := (&Pool{}); p.MaxPreemptions() != DefaultSpotMaxPreemptions {
		t.Errorf("default max preemptions %d", p.MaxPreemptions())
	}
	for _, tc := range []struct{ name, src, summary string }{
		{"unknown pool", "pool \"s\" {\n  spot = true\n  spot_fallback = \"nope\" #<\n}\n", "Unknown spot_fallback pool"},
		{"fallback is spot", "pool \"t\" {\n  spot = true\n}\npool \"s\" {\n  spot = true\n  spot_fallback = \"t\" #<\n}\n", "spot_fallback is a spot pool"},
		{"on-demand pool", "pool \"a\" {}\npool \"s\" {\n  spot_fallback = \"a\" #<\n}\n", "spot_fallback on an on-demand pool"},
		{"no preemption", "pool \"a\" {}\npool \"s\" {\n  spot = true\n  spot_fallback = \"a\"\n  spot_max_preemptions = 0 #<\n}\n", "Invalid spot_max_preemptions"},
		{"max without fallback", "pool \"s\" { #<\n  spot = true\n  spot_max_preemptions = 2\n}\n", "spot_max_preemptions without spot_fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(tc.src)}, LoadOptions{})
			checkDiagShape(t, diags)
			line := markLine(t, tc.src)
			for _, d := range diags {
				if d.Summary == tc.summary && d.Subject.Start.Line == line {
					return
				}
			}
			t.Errorf("want %q at line %d; got %v", tc.summary, line, diags)
		})
	}
}
