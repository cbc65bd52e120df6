//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execWithin is execCaravan that fails the test instead of hanging when
// the command blocks (a FIFO read without care never returns).
func execWithin(t *testing.T, stdin string, args ...string) cfgResult {
	t.Helper()
	done := make(chan cfgResult, 1)
	go func() { done <- execCaravan(t, nil, stdin, args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(time.Minute):
		t.Fatalf("caravan %s did not return: it blocked on a file", strings.Join(args, " "))
		return cfgResult{}
	}
}

// TestFmtRefusesHostileFiles: fmt -check is the first CI step on a pull
// request, so it reads files as validate does: a symlink out of the
// directory is neither read nor rewritten, a FIFO does not hang it.
func TestFmtRefusesHostileFiles(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside.hcl")
	if err := os.WriteFile(outside, []byte(uglyHCL), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "cfg")
	os.Mkdir(dir, 0o755)
	link := filepath.Join(dir, "link.hcl")
	if err := os.Symlink("../outside.hcl", link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	fifo := filepath.Join(dir, "f.hcl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, tc := range []struct{ file, summary string }{
		{link, "Symlink leaves the configuration directory"},
		{fifo, "Not a regular file"},
	} {
		r := execWithin(t, "", "fmt", tc.file)
		if r.code != ExitError || !strings.Contains(r.stderr, "Error: "+tc.summary) || !strings.Contains(r.stderr, tc.file) {
			t.Errorf("fmt %s: code %d stderr %s", tc.file, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "pool") {
			t.Errorf("fmt %s echoed the file behind it: %s", tc.file, r.stderr)
		}
	}
	if readString(t, outside) != uglyHCL {
		t.Errorf("fmt rewrote a file outside the directory through a symlink")
	}
}

// TestFmtLimits: fmt gets the nesting and size limits validate has, so a
// 100,000-deep list is a diagnostic, not a fatal stack overflow.
func TestFmtLimits(t *testing.T) {
	const depth = 100000
	deep := "a = " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
	dir := writeConfigDir(t, map[string]string{"deep.hcl": deep})
	for _, args := range [][]string{{"fmt", "-check", dir}, {"fmt", "-"}} {
		r := execWithin(t, deep, args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "Error: Expression too complex") {
			t.Errorf("%v: code %d stderr %.300s", args, r.code, r.stderr)
		}
	}
	huge := "# " + strings.Repeat("x", 8<<20) + "\n"
	if r := execWithin(t, huge, "fmt", "-"); r.code != ExitError || !strings.Contains(r.stderr, "too large") {
		t.Errorf("9 MiB on stdin: code %d stderr %.300s", r.code, r.stderr)
	}
}
