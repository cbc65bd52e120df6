package spec

import (
	"fmt"
	"strings"
	"testing"
)

// laughs16 is a local of 16 MiB made in a few lines: 4 KiB, then eight
// copies of the previous local, four times.
const laughs16 = `locals {
  a = format("%4096s", "x")
  b = "${local.a}${local.a}${local.a}${local.a}${local.a}${local.a}${local.a}${local.a}"
  c = "${local.b}${local.b}${local.b}${local.b}${local.b}${local.b}${local.b}${local.b}"
  d = "${local.c}${local.c}${local.c}${local.c}${local.c}${local.c}${local.c}${local.c}"
  e = "${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}"
  k127 = substr(local.e, 0, 130000)
}
`

// TestRunSizeLimits: the file (a 16 MiB local used 8 times in args
// across 100 runs) took 54 s and 1.1 GB; every size a task could not start
// with, or a plan could not hold, is now one diagnostic on the expression
// responsible, and the experiment yields no runs.
func TestRunSizeLimits(t *testing.T) {
	tests := []struct {
		name, body, summary, subject, detail string
	}{
		{"16 MiB argument", `args = [local.e, local.e, local.e, local.e, local.e, local.e, local.e, local.e]
  params = { s = 0 }
  sweep { grid = { s = range(100) } }`, "Argument too long", "local.e", "args[0] of the run with s=0 is 16777216 bytes"},
		{"argument from a param", `args = ["--x", "${param.s}"]
  params = { s = local.e }`, "Argument too long", `"${param.s}"`, "args[1] of the run with s=     "},
		{"command", `driver = "exec"
  command = local.e`, "Command too long", "local.e", "command of the run"},
		{"env", `env = { BIG = local.e }`, "Environment variable too long", "{ BIG = local.e }", "env.BIG"},
		{"param", `params = { big = local.e }`, "Parameter too long", `experiment "x"`, "CARAVAN_PARAM_BIG"},
		{"args together", `args = [local.k127, local.k127, local.k127, local.k127, local.k127, local.k127, local.k127, local.k127, local.k127]`,
			"Run too large", `experiment "x"`, "at most 1048576 bytes (1 MiB) per run"},
		{"spec", `image = "${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}${local.d}"`,
			"Run too large", `experiment "x"`, "at most 2097152 bytes (2 MiB) per run"},
		{"all runs together", `args = [local.k127]
  params = { s = 0, u = 0 }
  sweep { grid = { s = range(100), u = range(21) } }`, "Configuration too large", `experiment "x"`, "by the run with s="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.body, "image") && !strings.Contains(tc.body, "driver") {
				tc.body = "image = \"img\"\n  " + tc.body
			}
			src := laughs16 + "experiment \"x\" {\n  " + tc.body + "\n}\n"
			cfg, diags := LoadSource("", map[string][]byte{"m.hcl": []byte(src)}, LoadOptions{})
			if len(diags) != 1 || diags[0].Summary != tc.summary {
				t.Fatalf("diags = %.500v, want one %q", diags, tc.summary)
			}
			d := diags[0]
			if got := string(d.Subject.SliceBytes([]byte(src))); got != tc.subject {
				t.Errorf("subject %q, want %q", got, tc.subject)
			}
			if !strings.Contains(d.Detail, tc.detail) || len(d.Detail) > 1000 {
				t.Errorf("detail %.600q does not say %q in under 1000 bytes", d.Detail, tc.detail)
			}
			if len(cfg.Runs) != 0 {
				t.Errorf("%d runs kept from an experiment that failed", len(cfg.Runs))
			}
		})
	}
}

// TestRunSizeWithinLimits: values just under each limit are fine: an
// argument of 128 KiB less its NUL, an env entry of the same size.
func TestRunSizeWithinLimits(t *testing.T) {
	const argMax = 128 << 10
	src := laughs16 + fmt.Sprintf(`experiment "x" {
  image = "img"
  args = [substr(local.e, 0, %d)]
  env = { E = substr(local.e, 0, %d) }
  params = { s = 0 }
  sweep { grid = { s = range(3) } }
}
`, argMax-1, argMax-3)
	cfg := mustLoad(t, src, LoadOptions{})
	if len(cfg.Runs) != 3 || len(cfg.Runs[0].Args[0]) != argMax-1 {
		t.Errorf("runs %d", len(cfg.Runs))
	}
}
