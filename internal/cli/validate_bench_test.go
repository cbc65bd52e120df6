package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/cputime"
	"github.com/caravan-ml/caravan/internal/testutil/sweepdir"
)

// BenchmarkValidate is `caravan validate DIR -max-runs N` end to end
// (parse, validate, expand, compile every run, check IDs), the issue's
// figure: 10k runs under 1 s and 200 MB, linear growth to 100k.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		dir := sweepdir.Write(b, n)
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			env := Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			cpu0 := cputime.Process()
			for b.Loop() {
				if code := Main(context.Background(), []string{"validate", dir, "-max-runs", fmt.Sprint(n)}, env); code != ExitOK {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
			b.ReportMetric(float64(cputime.Process()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

func TestValidateLargeSweep(t *testing.T) {
	dir := sweepdir.Write(t, 1000)
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitOK || r.stdout != "Success! 1 experiment, 1000 runs.\n" {
		t.Fatalf("code %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}
