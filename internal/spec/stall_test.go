package spec

import (
	"strings"
	"testing"
	"time"
)

// TestStallSettings: stall_timeout and on_stall are read from the
// experiment over the defaults, on_stall defaults to warn, and every
// mistake is one diagnostic on the attribute that made it.
func TestStallSettings(t *testing.T) {
	tests := []struct {
		name, defaults, body string
		timeout              time.Duration
		onStall, summary     string
		subject              string
	}{
		{"unset", "", "", 0, "", "", ""},
		{"warn by default", "", `stall_timeout = "15m"`, 15 * time.Minute, "warn", "", ""},
		{"stop", "", "stall_timeout = \"20s\"\n  on_stall = \"stop\"", 20 * time.Second, "stop", "", ""},
		{"from defaults", "stall_timeout = \"1h\"\n  on_stall = \"stop\"", "", time.Hour, "stop", "", ""},
		{"experiment over defaults", `on_stall = "stop"`, "stall_timeout = \"5m\"\n  on_stall = \"warn\"", 5 * time.Minute, "warn", "", ""},
		{"on_stall from defaults alone is ignored", `on_stall = "stop"`, "", 0, "", "", ""},
		{"on_stall alone", "", `on_stall = "stop"`, 0, "", "on_stall without stall_timeout", `"stop"`},
		{"unknown action", "", "stall_timeout = \"5m\"\n  on_stall = \"kill\"", 0, "", "Invalid on_stall", `"kill"`},
		{"too short", "", `stall_timeout = "2s"`, 0, "", "stall_timeout too short", `"2s"`},
		{"not a duration", "", `stall_timeout = 5`, 0, "", "Invalid duration", `5`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "experiment \"x\" {\n  image = \"img\"\n  " + tc.body + "\n}\n"
			if tc.defaults != "" {
				src = "defaults {\n  " + tc.defaults + "\n}\n" + src
			}
			cfg, diags := LoadSource("", map[string][]byte{"m.hcl": []byte(src)}, LoadOptions{})
			if tc.summary != "" {
				if len(diags) != 1 || diags[0].Summary != tc.summary {
					t.Fatalf("diags = %v, want one %q", diags, tc.summary)
				}
				if got := string(diags[0].Subject.SliceBytes([]byte(src))); got != tc.subject {
					t.Errorf("subject %q, want %q", got, tc.subject)
				}
				if !strings.Contains(diags[0].Detail, "stall") && !strings.Contains(diags[0].Detail, "duration") {
					t.Errorf("detail does not say how to fix it: %s", diags[0].Detail)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			e := cfg.Experiments[0]
			if e.StallTimeout != tc.timeout || e.OnStall != tc.onStall {
				t.Errorf("stall_timeout %s, on_stall %q; want %s, %q", e.StallTimeout, e.OnStall, tc.timeout, tc.onStall)
			}
		})
	}
}
