package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateSuccess(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL, "b.hcl": smokeHCL})
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitOK || r.stdout != "Success! 2 experiments, 3 runs.\n" || r.stderr != "" {
		t.Fatalf("code %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	one := writeConfigDir(t, map[string]string{"b.hcl": smokeHCL})
	if r := execCaravan(t, nil, "", "validate", one); r.stdout != "Success! 1 experiment, 1 run.\n" {
		t.Errorf("singular: %q", r.stdout)
	}
}

const badHCL = `experiment "bad" {
  pool     = "a100"
  priority = 500
  command  = "python"
  args     = ["x", param.nope]
	bogus = 1
}
`

func TestValidateReportsEveryError(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"bad.hcl": badHCL})
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitError || r.stdout != "" {
		t.Fatalf("code %d stdout %q", r.code, r.stdout)
	}
	file := filepath.Join(dir, "bad.hcl")
	for _, want := range []string{
		"Error: Priority out of range\n\n  on " + file + ":3:14, in experiment \"bad\":\n   3:   priority = 500\n                   ^^^\n\n",
		"Error: Unsupported argument\n\n  on " + file + ":6:2, in experiment \"bad\":\n   6: \tbogus = 1\n      \t^^^^^\n",
		"Error: Undefined parameter",
		"                         ^^^^^^^^^^\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "Error: "); n != 3 {
		t.Errorf("%d errors printed, want all 3:\n%s", n, r.stderr)
	}
}

func TestValidateJSON(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"bad.hcl": badHCL})
	r := execCaravan(t, nil, "", "validate", "-json", dir)
	if r.code != ExitError {
		t.Fatalf("code %d", r.code)
	}
	var diags []jsonDiag
	if err := json.Unmarshal([]byte(r.stdout), &diags); err != nil {
		t.Fatalf("stdout is not a JSON array of diagnostics: %v\n%s", err, r.stdout)
	}
	if len(diags) != 3 {
		t.Fatalf("%d diagnostics, want 3: %s", len(diags), r.stdout)
	}
	found := false
	for _, d := range diags {
		if d.Severity != "error" || d.Summary == "" || d.Detail == "" || d.Range == nil || d.Range.Filename != filepath.Join(dir, "bad.hcl") {
			t.Errorf("incomplete diagnostic %+v", d)
		}
		if d.Summary == "Priority out of range" {
			found = true
			want := jsonRange{Filename: d.Range.Filename, Start: jsonPos{3, 14, 52}, End: jsonPos{3, 17, 55}}
			if *d.Range != want {
				t.Errorf("range %+v, want %+v", *d.Range, want)
			}
		}
	}
	if !found {
		t.Errorf("no priority diagnostic in %s", r.stdout)
	}
	if strings.Contains(r.stderr, "Error:") {
		t.Errorf("-json also printed text diagnostics: %s", r.stderr)
	}

	ok := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL})
	r = execCaravan(t, nil, "", "validate", ok, "-json")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("valid -json: code %d stdout %q", r.code, r.stdout)
	}
}

// varHCL fails validation unless lr is set below 1 by some means.
const varHCL = `variable "lr" {
  type = number
  validation {
    condition     = var.lr < 1
    error_message = "lr must be below 1"
  }
}

experiment "e" {
  pool    = "cpu"
  driver  = "raw_exec"
  command = "/bin/echo"
  args    = [param.lr]
  params  = { lr = var.lr }
}
`

func TestValidateVariables(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"v.hcl": varHCL, "vars/good.vars": "lr = 0.5\n", "vars/bad.vars": "lr = 5\n"})
	good, bad := filepath.Join(dir, "vars/good.vars"), filepath.Join(dir, "vars/bad.vars")
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    int
	}{
		{"unset", nil, nil, ExitError},
		{"-var", nil, []string{"-var", "lr=0.5"}, ExitOK},
		{"-var invalid value", nil, []string{"-var", "lr=5"}, ExitError},
		{"-var later wins", nil, []string{"-var", "lr=5", "-var", "lr=0.5"}, ExitOK},
		{"-var-file", nil, []string{"-var-file", good}, ExitOK},
		{"-var-file later wins", nil, []string{"-var-file", good, "-var-file", bad}, ExitError},
		{"env", []string{"CARAVAN_VAR_lr=0.5"}, nil, ExitOK},
		{"-var-file beats env", []string{"CARAVAN_VAR_lr=0.5"}, []string{"-var-file", bad}, ExitError},
		{"-var beats -var-file", nil, []string{"-var-file", bad, "-var", "lr=0.5"}, ExitOK},
		{"malformed -var", nil, []string{"-var", "lr"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCaravan(t, tt.environ, "", append([]string{"validate", dir}, tt.args...)...)
			if r.code != tt.want {
				t.Fatalf("code %d, want %d\nstdout %s\nstderr %s", r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
	r := execCaravan(t, nil, "", "validate", dir, "-var", "lr")
	if !strings.Contains(r.stderr, "Error: Invalid -var option") || !strings.Contains(r.stderr, "-var 'name=value'") {
		t.Errorf("malformed -var message: %s", r.stderr)
	}
}

func TestValidateMaxRuns(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL})
	if r := execCaravan(t, nil, "", "validate", dir, "-max-runs", "2"); r.code != ExitOK {
		t.Errorf("-max-runs 2 with 2 runs: code %d %s", r.code, r.stderr)
	}
	r := execCaravan(t, nil, "", "validate", dir, "-max-runs", "1")
	if r.code != ExitError || !strings.Contains(r.stderr, "Sweep too large") {
		t.Errorf("-max-runs 1 with 2 runs: code %d %s", r.code, r.stderr)
	}
	r = execCaravan(t, nil, "", "validate", dir, "-max-runs", "0")
	if r.code != ExitError || !strings.Contains(r.stderr, "Invalid -max-runs option") {
		t.Errorf("-max-runs 0: code %d %s", r.code, r.stderr)
	}
}

// TestValidateDuplicateRuns: two sweep points with one spec are refused by
// validate itself (compileEach), not only by render. A random block that
// can only draw one value passes the language's own checks (a repeated
// grid value would not), so this reaches the compiled-hash check.
func TestValidateDuplicateRuns(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": `experiment "e" {
  pool    = "cpu"
  driver  = "raw_exec"
  command = "/bin/true"
  sweep {
    random {
      samples = 2
      opt     = choice("adam")
    }
  }
}
`})
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "Error: Duplicate run") || !strings.Contains(r.stderr, "Sweep points 0 and 1") {
		t.Errorf("code %d stderr %s", r.code, r.stderr)
	}
}

func TestValidateArguments(t *testing.T) {
	if r := execCaravan(t, nil, "", "validate", "a", "b"); r.code != ExitUsage || !strings.Contains(r.stderr, "too many arguments") {
		t.Errorf("two dirs: code %d %s", r.code, r.stderr)
	}
	if r := execCaravan(t, nil, "", "validate", "-nope"); r.code != ExitUsage {
		t.Errorf("unknown flag: code %d", r.code)
	}
	if r := execCaravan(t, nil, "", "validate", "-h"); r.code != ExitOK || !strings.Contains(r.stderr, "-max-runs") {
		t.Errorf("help: code %d %s", r.code, r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if r := execCaravan(t, nil, "", "validate", missing); r.code != ExitError || !strings.Contains(r.stderr, "Error: ") {
		t.Errorf("missing dir: code %d %s", r.code, r.stderr)
	}
}

// TestShippedExamples runs the demo's commands on hcl/examples: they must
// validate, be canonically formatted, and render in both formats.
func TestShippedExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "hcl", "examples")
	pools := filepath.Join(dir, "pools")
	r := execCaravan(t, nil, "", "validate", dir, "-pools", pools)
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "Success! ") {
		t.Fatalf("validate: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := execCaravan(t, nil, "", "fmt", "-check", dir); r.code != ExitOK {
		t.Errorf("fmt -check: code %d, not canonical: %s", r.code, r.stdout)
	}
	for _, format := range []string{"json", "hcl"} {
		if r := execCaravan(t, nil, "", "render", dir, "-pools", pools, "-format", format); r.code != ExitOK || r.stdout == "" {
			t.Errorf("render -format %s: code %d %s", format, r.code, r.stderr)
		}
	}
	// What a run will be as the service releases it: the source at its
	// commit, the image by digest (declared, or pinned by apply), the
	// timeout Nomad enforces, and the runs a run waits for.
	r = execCaravan(t, nil, "", "render", dir, "-pools", pools, "-format", "hcl")
	for _, want := range []string{
		"artifact {", `max_run_duration = "12h0m0s"`,
		`image    = "ghcr.io/acme/train@sha256:`, "# apply runs image ghcr.io/acme/train:1.4 by the digest the registry gives for it then",
		"# waits for 24 runs (caravan_wait_for): apply writes its gate, and the controller registers this job once they all completed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("render of the examples lacks %q", want)
		}
	}
}
