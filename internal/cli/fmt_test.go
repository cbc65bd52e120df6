package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	uglyHCL = "experiment \"x\" {\npool=\"cpu\"\n    command = \"/bin/true\"\n}\n"
	niceHCL = "experiment \"x\" {\n  pool    = \"cpu\"\n  command = \"/bin/true\"\n}\n"
)

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFmtRewrites(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"ugly.hcl": uglyHCL, "nice.hcl": niceHCL, "notes.txt": "pool=1\n"})
	ugly := filepath.Join(dir, "ugly.hcl")
	if err := os.Chmod(ugly, 0o600); err != nil {
		t.Fatal(err)
	}
	r := execCaravan(t, nil, "", "fmt", dir)
	if r.code != ExitOK || r.stdout != ugly+"\n" || r.stderr != "" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := readString(t, ugly); got != niceHCL {
		t.Errorf("ugly.hcl now %q, want %q", got, niceHCL)
	}
	if info, _ := os.Stat(ugly); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the file's own 0600 kept", info.Mode().Perm())
	}
	if got := readString(t, filepath.Join(dir, "notes.txt")); got != "pool=1\n" {
		t.Errorf("a non-.hcl file in the directory was touched")
	}
	// Canonical now: a second run changes and lists nothing.
	if r := execCaravan(t, nil, "", "fmt", dir); r.code != ExitOK || r.stdout != "" {
		t.Errorf("second run: code %d stdout %q", r.code, r.stdout)
	}
}

func TestFmtCheck(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"ugly.hcl": uglyHCL, "nice.hcl": niceHCL})
	ugly := filepath.Join(dir, "ugly.hcl")
	r := execCaravan(t, nil, "", "fmt", "-check", dir)
	if r.code != ExitFmt || r.stdout != ugly+"\n" {
		t.Fatalf("code %d stdout %q, want 3 and the unformatted file", r.code, r.stdout)
	}
	if readString(t, ugly) != uglyHCL {
		t.Errorf("-check rewrote the file")
	}
	clean := writeConfigDir(t, map[string]string{"nice.hcl": niceHCL})
	if r := execCaravan(t, nil, "", "fmt", "-check", clean); r.code != ExitOK || r.stdout != "" {
		t.Errorf("formatted dir: code %d stdout %q", r.code, r.stdout)
	}
}

func TestFmtDiff(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"ugly.hcl": uglyHCL})
	ugly := filepath.Join(dir, "ugly.hcl")
	r := execCaravan(t, nil, "", "fmt", "-check", "-diff", ugly)
	want := "--- old/" + ugly + "\n+++ new/" + ugly + "\n" +
		"@@ -1,4 +1,4 @@\n experiment \"x\" {\n-pool=\"cpu\"\n-    command = \"/bin/true\"\n+  pool    = \"cpu\"\n+  command = \"/bin/true\"\n }\n" +
		ugly + "\n"
	if r.code != ExitFmt || r.stdout != want {
		t.Fatalf("code %d\n got %q\nwant %q", r.code, r.stdout, want)
	}
	if readString(t, ugly) != uglyHCL {
		t.Errorf("-check -diff rewrote the file")
	}
	r = execCaravan(t, nil, "", "fmt", "-diff", ugly)
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "--- old/") || readString(t, ugly) != niceHCL {
		t.Errorf("-diff without -check: code %d, file %q", r.code, readString(t, ugly))
	}
}

func TestFmtRecursive(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"top.hcl": uglyHCL, "sub/deep.hcl": uglyHCL, ".hidden/x.hcl": uglyHCL})
	top, deep := filepath.Join(dir, "top.hcl"), filepath.Join(dir, "sub", "deep.hcl")
	r := execCaravan(t, nil, "", "fmt", "-check", dir)
	if r.stdout != top+"\n" {
		t.Errorf("without -recursive: %q", r.stdout)
	}
	r = execCaravan(t, nil, "", "fmt", "-check", "-recursive", dir)
	if r.code != ExitFmt || r.stdout != deep+"\n"+top+"\n" {
		t.Errorf("with -recursive: code %d %q", r.code, r.stdout)
	}
}

func TestFmtSyntaxError(t *testing.T) {
	broken := "experiment \"x\" {\n  pool = \n"
	dir := writeConfigDir(t, map[string]string{"broken.hcl": broken, "ugly.hcl": uglyHCL})
	path := filepath.Join(dir, "broken.hcl")
	r := execCaravan(t, nil, "", "fmt", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "Error: ") || !strings.Contains(r.stderr, "on "+path+":") {
		t.Fatalf("code %d stderr %s", r.code, r.stderr)
	}
	if readString(t, path) != broken {
		t.Errorf("a file with syntax errors was rewritten")
	}
	if readString(t, filepath.Join(dir, "ugly.hcl")) != niceHCL {
		t.Errorf("the other, valid file was not formatted")
	}
}

func TestFmtFilesAndStdin(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.nomad": uglyHCL, "b.hcl": uglyHCL})
	a := filepath.Join(dir, "a.nomad")
	r := execCaravan(t, nil, "", "fmt", a)
	if r.code != ExitOK || r.stdout != a+"\n" || readString(t, a) != niceHCL {
		t.Errorf("explicit file: code %d stdout %q", r.code, r.stdout)
	}
	if readString(t, filepath.Join(dir, "b.hcl")) != uglyHCL {
		t.Errorf("a file not named was formatted")
	}
	r = execCaravan(t, nil, uglyHCL, "fmt", "-")
	if r.code != ExitOK || r.stdout != niceHCL {
		t.Errorf("stdin: code %d stdout %q", r.code, r.stdout)
	}
	r = execCaravan(t, nil, "x = \n", "fmt", "-")
	if r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, "<stdin>") {
		t.Errorf("stdin syntax error: code %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if r := execCaravan(t, nil, "", "fmt", filepath.Join(dir, "missing.hcl")); r.code != ExitError || !strings.Contains(r.stderr, "cannot format") {
		t.Errorf("missing file: code %d %s", r.code, r.stderr)
	}
}

// TestFmtStdinCheck: -check and -diff on stdin report like they do for
// files instead of printing the formatted text.
func TestFmtStdinCheck(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		stdout      string // exact, or a substring when contains
		contains    bool
	}{
		{"check unformatted", uglyHCL, []string{"-check", "-"}, ExitFmt, "", false},
		{"check formatted", niceHCL, []string{"-check", "-"}, ExitOK, "", false},
		{"diff", uglyHCL, []string{"-diff", "-"}, ExitOK, "+  pool    = \"cpu\"", true},
		{"check diff", uglyHCL, []string{"-check", "-diff", "-"}, ExitFmt, "--- old/<stdin>", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCaravan(t, nil, tt.stdin, append([]string{"fmt"}, tt.args...)...)
			okOut := r.stdout == tt.stdout
			if tt.contains {
				okOut = strings.Contains(r.stdout, tt.stdout) && !strings.Contains(r.stdout, niceHCL)
			}
			if r.code != tt.code || !okOut {
				t.Errorf("code %d stdout %q stderr %q; want code %d stdout %q", r.code, r.stdout, r.stderr, tt.code, tt.stdout)
			}
		})
	}
}

// TestFmtMissingTargetKeepsGoing: one bad argument does not hide what the
// other arguments would report.
func TestFmtMissingTargetKeepsGoing(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"ugly.hcl": uglyHCL})
	ugly := filepath.Join(dir, "ugly.hcl")
	r := execCaravan(t, nil, "", "fmt", "-check", filepath.Join(dir, "missing"), dir)
	if r.code != ExitError || r.stdout != ugly+"\n" || !strings.Contains(r.stderr, "cannot format") {
		t.Errorf("code %d stdout %q stderr %q; want 1, the unformatted file listed, and the missing one named", r.code, r.stdout, r.stderr)
	}
}

func TestFmtDefaultDir(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"ugly.hcl": uglyHCL})
	t.Chdir(dir)
	r := execCaravan(t, nil, "", "fmt", "-check")
	if r.code != ExitFmt || r.stdout != "ugly.hcl\n" {
		t.Errorf("no argument: code %d stdout %q, want the current directory checked", r.code, r.stdout)
	}
}
