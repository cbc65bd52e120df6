package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBenchSweep writes a configuration whose grid expands to n runs (n a
// multiple of 100).
func writeBenchSweep(tb testing.TB, n int) string {
	tb.Helper()
	seeds := make([]string, n/100)
	for i := range seeds {
		seeds[i] = fmt.Sprint(i)
	}
	lrs := make([]string, 100)
	for i := range lrs {
		lrs[i] = fmt.Sprintf("%g", 0.0001*float64(i+1))
	}
	src := strings.NewReplacer("LRS", strings.Join(lrs, ", "), "SEEDS", strings.Join(seeds, ", ")).Replace(`experiment "sweep" {
  pool    = "a100"
  image   = "ghcr.io/acme/train:1.4"
  command = "python"
  args    = ["train.py", "--lr", param.lr, "--seed", param.seed, "--tag=run-${param.seed}"]
  env     = { WANDB_MODE = "offline", SEED = param.seed }
  params  = { batch = 256 }
  sweep {
    grid = {
      lr   = [LRS]
      seed = [SEEDS]
    }
  }
  resources {
    gpus       = 1
    gpu_memory = "40GiB"
    memory     = "32GiB"
  }
  retries = 1
}
`)
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sweep.hcl"), []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkValidate is `caravan validate DIR -max-runs N` end to end
// (parse, validate, expand, compile every run, check IDs), the issue's
// figure: 10k runs under 1 s and 200 MB, linear growth to 100k.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		dir := writeBenchSweep(b, n)
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			env := Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			cpu0 := cpuTime()
			for b.Loop() {
				if code := Main(context.Background(), []string{"validate", dir, "-max-runs", fmt.Sprint(n)}, env); code != ExitOK {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

func TestValidateLargeSweep(t *testing.T) {
	dir := writeBenchSweep(t, 1000)
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitOK || r.stdout != "Success! 1 experiment, 1000 runs.\n" {
		t.Fatalf("code %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}
