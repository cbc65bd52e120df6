package spec

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader as one configuration file.
// Whatever the input, Load must return (never panic, never overflow the
// stack), every diagnostic must have a subject, summary and detail, and a
// configuration without errors must have exactly the runs its experiments
// announce. The seed corpus is testdata/fuzz/FuzzLoad plus the examples.
func FuzzLoad(f *testing.F) {
	examples, _ := filepath.Glob("../../hcl/examples/*.hcl")
	for _, e := range examples {
		if src, err := os.ReadFile(e); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		timer := time.AfterFunc(10*time.Second, func() { panic("FuzzLoad: one input took more than 10s") })
		defer timer.Stop()
		cfg, diags := LoadSource("", map[string][]byte{"fuzz.hcl": src}, LoadOptions{MaxRuns: 1000})
		if cfg == nil {
			t.Fatal("nil config")
		}
		for _, d := range diags {
			if d.Subject == nil || d.Summary == "" || d.Detail == "" {
				t.Fatalf("diagnostic without subject, summary or detail: %#v", d)
			}
		}
		if diags.HasErrors() {
			return
		}
		want := 0
		for _, e := range cfg.Experiments {
			want += e.RunCount
		}
		if len(cfg.Runs) != want {
			t.Fatalf("runs = %d, experiments announce %d", len(cfg.Runs), want)
		}
		for _, r := range cfg.Runs {
			if len(r.Params) != len(r.Experiment.ParamNames) {
				t.Fatalf("run has %d params, experiment names %d", len(r.Params), len(r.Experiment.ParamNames))
			}
		}
	})
}

// FuzzLoadPools feeds arbitrary bytes to the loader as one file of an
// operator's pools directory (pool blocks with terraform blocks, the
// policy): it must return a catalogue with a policy, never panic, and give
// only well-formed diagnostics. Seeds: hcl/examples/pools.
func FuzzLoadPools(f *testing.F) {
	examples, _ := filepath.Glob("../../hcl/examples/pools/*.hcl")
	for _, e := range examples {
		if src, err := os.ReadFile(e); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("policy {\n  allowed_drivers = [\"docker\"]\n  service_node_pools = []\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		timer := time.AfterFunc(10*time.Second, func() { panic("FuzzLoadPools: one input took more than 10s") })
		defer timer.Stop()
		cfg, diags := LoadSource("", map[string][]byte{"fuzz.hcl": src}, LoadOptions{pools: true, MaxRuns: 1000})
		cat := catalogOf(cfg, "")
		if cat.Policy == nil || cat.Pools == nil {
			t.Fatal("catalogue without policy or pools")
		}
		for _, d := range diags {
			if d.Subject == nil || d.Summary == "" || d.Detail == "" {
				t.Fatalf("diagnostic without subject, summary or detail: %#v", d)
			}
		}
		if len(cfg.Experiments) != 0 || len(cfg.Runs) != 0 {
			t.Fatal("a pools directory yielded experiments")
		}
	})
}

// FuzzParseSize checks that ParseSize never panics, never returns a
// negative size, and agrees with itself on the canonical "<n>B" form.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512MiB", "40GiB", "1.5TB", "1TiB", "0", "9223372036854775807B", "1e3GB", ".5KiB", "-1B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if m, err := ParseSize(strconv.FormatInt(n, 10) + "B"); err != nil || m != n {
			t.Fatalf("ParseSize(%q) = %d, but %dB parses as %d, %v", s, n, n, m, err)
		}
	})
}
