package sweepdir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write writes sweep.hcl into a fresh temporary directory and returns the
// directory. Its experiment "sweep" crosses 100 learning rates with n/100
// seeds, so n must be a positive multiple of 100.
func Write(tb testing.TB, n int) string {
	tb.Helper()
	if n <= 0 || n%100 != 0 {
		tb.Fatalf("sweepdir.Write: %d runs is not a positive multiple of 100", n)
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sweep.hcl"), []byte(source(n)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// source is the text of sweep.hcl for n runs.
func source(n int) string {
	seeds := make([]string, n/100)
	for i := range seeds {
		seeds[i] = fmt.Sprint(i)
	}
	lrs := make([]string, 100)
	for i := range lrs {
		lrs[i] = fmt.Sprintf("%g", 0.0001*float64(i+1))
	}
	return fmt.Sprintf(`experiment "sweep" {
  pool    = "a100"
  image   = "ghcr.io/acme/train:1.4"
  command = "python"
  args    = ["train.py", "--lr", param.lr, "--seed", param.seed, "--tag=run-${param.seed}"]
  env     = { WANDB_MODE = "offline", SEED = param.seed }
  params  = { batch = 256 }
  sweep {
    grid = {
      lr   = [%s]
      seed = [%s]
    }
  }
  resources {
    gpus       = 1
    gpu_memory = "40GiB"
    memory     = "32GiB"
  }
  retries = 1
}
`, strings.Join(lrs, ", "), strings.Join(seeds, ", "))
}
