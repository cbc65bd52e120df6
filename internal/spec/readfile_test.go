//go:build unix

package spec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const okHCL = "experiment \"e\" {\n  image = \"img\"\n}\n"

// loadWithin runs Load on dir and fails the test if it does not return
// within a minute: a FIFO read without care blocks for ever.
func loadWithin(t *testing.T, dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	t.Helper()
	type result struct {
		cfg   *Config
		diags hcl.Diagnostics
	}
	done := make(chan result, 1)
	go func() {
		cfg, diags := Load(context.Background(), dir, opts)
		done <- result{cfg, diags}
	}()
	select {
	case r := <-done:
		return r.cfg, r.diags
	case <-time.After(time.Minute):
		t.Fatal("Load did not return: it blocked on a file")
		return nil, nil
	}
}

// TestLoadRefusesHostileFiles: a configuration from a pull request may hold
// symlinks out of the directory, FIFOs and binary files. Each is refused
// with a diagnostic naming it, its contents are never echoed, and the
// other files still load.
func TestLoadRefusesHostileFiles(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the hostile file's name
		summary string
	}{
		{"symlink out of the directory", func(t *testing.T, dir string) string {
			return symlink(t, "../secret.hcl", filepath.Join(dir, "leak.hcl"))
		}, "Symlink leaves the configuration directory"},
		{"absolute symlink", func(t *testing.T, dir string) string {
			return symlink(t, filepath.Join(filepath.Dir(dir), "secret.hcl"), filepath.Join(dir, "leak.hcl"))
		}, "Symlink leaves the configuration directory"},
		{"symlink to /proc/self/environ", func(t *testing.T, dir string) string {
			return symlink(t, "/proc/self/environ", filepath.Join(dir, "leak.hcl"))
		}, "Symlink leaves the configuration directory"},
		{"symlink to /dev/zero", func(t *testing.T, dir string) string {
			return symlink(t, "/dev/zero", filepath.Join(dir, "zero.hcl"))
		}, "Symlink leaves the configuration directory"},
		{"fifo", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "f.hcl")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return p
		}, "Not a regular file"},
		{"symlink inside to a fifo", func(t *testing.T, dir string) string {
			if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return symlink(t, "pipe", filepath.Join(dir, "p.hcl"))
		}, "Not a regular file"},
		{"directory named .hcl behind a symlink", func(t *testing.T, dir string) string {
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			return symlink(t, "sub", filepath.Join(dir, "d.hcl"))
		}, "Not a regular file"},
		{"binary file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "bin.hcl")
			os.WriteFile(p, []byte("a = 1\n\x00\x01NOMAD_TOKEN=s3cr3t\n"), 0o644)
			return p
		}, "Not a text file"},
		{"invalid UTF-8", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "latin1.hcl")
			os.WriteFile(p, []byte("a = \"caf\xe9 s3cr3t\"\n"), 0o644)
			return p
		}, "Not a text file"},
		{"terminal escapes", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "esc.hcl")
			os.WriteFile(p, []byte("a = \"\x1b]0;s3cr3t\x07\"\n"), 0o644)
			return p
		}, "Not a text file"},
		{"sparse file past the size cap", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "big.hcl")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(maxFileBytes + 1)
			f.Close()
			return p
		}, "Configuration file too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The configuration is a subdirectory, with a secret beside it.
			dir := filepath.Join(t.TempDir(), "cfg")
			os.Mkdir(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "..", "secret.hcl"), []byte("token = \"NOMAD_TOKEN=s3cr3t\"\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(okHCL), 0o644)
			bad := tc.setup(t, dir)
			cfg, diags := loadWithin(t, dir, LoadOptions{})
			if len(diags) != 1 || diags[0].Summary != tc.summary {
				t.Fatalf("diags = %v, want one %q", diags, tc.summary)
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Filename != bad || d.Detail == "" {
				t.Errorf("diagnostic does not name %s or say how to fix it: %#v", bad, d)
			}
			if strings.Contains(d.Detail, "s3cr3t") {
				t.Errorf("the file's contents were echoed: %s", d.Detail)
			}
			if cfg.Files[bad] != nil {
				t.Errorf("%s was kept for snippets", bad)
			}
			if len(cfg.Experiments) != 1 {
				t.Errorf("the good file was not loaded: %v", cfg.Experiments)
			}
		})
	}
}

// symlink makes link point to target, skipping the test where symlinks
// cannot be made.
func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	return link
}

// TestLoadFollowsSymlinksInside: a link to another file of the same
// directory is an ordinary way to share a file and keeps working.
func TestLoadFollowsSymlinksInside(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "shared"), 0o755)
	os.WriteFile(filepath.Join(dir, "shared", "exp.txt"), []byte(okHCL), 0o644)
	symlink(t, "shared/exp.txt", filepath.Join(dir, "exp.hcl"))
	cfg, diags := loadWithin(t, dir, LoadOptions{})
	if diags.HasErrors() || len(cfg.Experiments) != 1 {
		t.Fatalf("diags %v experiments %v", diags, cfg.Experiments)
	}
}

// TestVarFileRefusesHostileFiles: -var-file follows the same rules, with
// the variables file's own directory as the boundary.
func TestVarFileRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("variable \"v\" {\n  default = 1\n}\n"), 0o644)
	fifo := filepath.Join(dir, "vars.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	leak := symlink(t, "/proc/self/environ", filepath.Join(dir, "leak.vars"))
	for file, summary := range map[string]string{fifo: "Not a regular file", leak: "Symlink leaves the configuration directory"} {
		_, diags := loadWithin(t, dir, LoadOptions{VarFiles: []string{file}})
		if len(diags) != 1 || diags[0].Summary != summary || diags[0].Subject.Filename != file {
			t.Errorf("-var-file %s: diags = %v, want one %q", file, diags, summary)
		}
	}
}
