package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchDir writes a configuration whose one experiment expands to runs
// runs: a 10 × 10 grid times runs/100 random samples, with args and env
// that use swept params, so that every run gets its own args and env (the
// per-run part of the work).
func benchDir(b *testing.B, runs int) string {
	dir := b.TempDir()
	files := map[string]string{
		"variables.hcl": `
variable "lr" {
  type    = number
  default = 0.001
  validation {
    condition     = var.lr > 0
    error_message = "lr must be positive"
  }
}
locals { image = "ghcr.io/acme/train:1.4" }
`,
		"pools.hcl": `
pool "a100" {
  node_pool     = "gpu-a100"
  gpus_per_node = 8
  max_nodes     = 16
}
defaults {
  pool = "a100"
  resources { gpus = 1 }
}
`,
		"sweep.hcl": fmt.Sprintf(`
experiment "resnet50" {
  image   = local.image
  command = "python"
  args    = ["train.py", "--lr", param.lr, "--batch", param.batch, "--dropout=${param.dropout}", "--opt", param.opt]
  env     = { WANDB_MODE = "offline", SEED = param.seed, OPT = param.opt }
  params  = { lr = var.lr, batch = 256, seed = 1 }
  sweep {
    grid = {
      lr    = [0.1, 0.05, 0.01, 0.005, 0.001, 0.0005, 0.0001, 0.00005, 0.00001, 0.000005]
      batch = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
    }
    random {
      samples = %d
      seed    = 7
      dropout = uniform(0.0, 0.5)
      opt     = choice("adam", "sgd")
    }
  }
  resources {
    gpus   = 2
    memory = "64GiB"
  }
}
`, runs/100),
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func benchmarkLoad(b *testing.B, runs int) {
	dir := benchDir(b, runs)
	opts := LoadOptions{MaxRuns: runs}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cfg, diags := Load(context.Background(), dir, opts)
		if diags.HasErrors() || len(cfg.Runs) != runs {
			b.Fatalf("runs = %d, diags: %v", len(cfg.Runs), diags)
		}
	}
}

func BenchmarkLoad_1k(b *testing.B)   { benchmarkLoad(b, 1_000) }
func BenchmarkLoad_10k(b *testing.B)  { benchmarkLoad(b, 10_000) }
func BenchmarkLoad_100k(b *testing.B) { benchmarkLoad(b, 100_000) }
