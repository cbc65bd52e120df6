package cli

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cfgResult is what one caravan invocation printed and returned.
type cfgResult struct {
	stdout, stderr string
	code           int
}

// execCaravan runs cli.Main with buffers, the given environment
// (KEY=VALUE) and stdin.
func execCaravan(t *testing.T, environ []string, stdin string, args ...string) cfgResult {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string {
			for _, kv := range environ {
				if name, v, _ := strings.Cut(kv, "="); name == k {
					return v
				}
			}
			return ""
		},
		Environ: func() []string { return environ },
		Logger:  slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	code := Main(context.Background(), args, env)
	return cfgResult{out.String(), errb.String(), code}
}

// testProject is the project of the directories writeConfigDir writes.
const testProject = "test"

// writeConfigDir writes files (name → content) under a new temporary
// directory and returns it. The directory belongs to project testProject,
// as every configuration directory declares one (a project.hcl is added
// unless a file holds a caravan block already); writeBareConfigDir writes
// the files alone.
func writeConfigDir(t *testing.T, files map[string]string) string {
	t.Helper()
	declared := false
	for _, content := range files {
		declared = declared || strings.Contains(content, "caravan {")
	}
	if !declared && len(files) > 0 {
		files = maps.Clone(files)
		files["project.hcl"] = "caravan {\n  project = \"" + testProject + "\"\n}\n"
	}
	return writeBareConfigDir(t, files)
}

// writeBareConfigDir writes files (name → content) under a new temporary
// directory and returns it.
func writeBareConfigDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sweepHCL is a small valid configuration: two runs of one experiment.
const sweepHCL = `variable "lr" {
  type    = number
  default = 0.001
}

experiment "resnet50" {
  pool     = "a100"
  priority = 70
  image    = "ghcr.io/acme/train:1.4"
  command  = "python"
  args     = ["train.py", "--lr", param.lr, "--batch", param.batch]
  params = {
    lr    = var.lr
    batch = 256
  }
  sweep {
    grid = {
      batch = [128, 256]
    }
  }
  resources {
    gpus       = 2
    gpu_memory = "40GiB"
    memory     = "64GiB"
  }
}
`

// smokeHCL is a second experiment with one run.
const smokeHCL = `experiment "smoke" {
  pool    = "cpu"
  driver  = "raw_exec"
  command = "/bin/true"
}
`
