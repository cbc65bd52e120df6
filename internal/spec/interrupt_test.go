package spec

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/sweepdir"
)

// countdownCtx is a context that is done once Err has been asked n times:
// it stops a load at a chosen point of its work, the same on every run,
// without timers.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func countdown(n int64) *countdownCtx {
	c := &countdownCtx{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// wantInterrupted checks that a load stopped with exactly one
// "Interrupted" error, on the directory, and no runs.
func wantInterrupted(t *testing.T, cfg *Config, diags []string) {
	t.Helper()
	if len(diags) != 1 || diags[0] != "Interrupted" {
		t.Fatalf("diagnostics %v, want one Interrupted", diags)
	}
	if len(cfg.Runs) != 0 {
		t.Errorf("%d runs from an interrupted load", len(cfg.Runs))
	}
}

// TestLoadStopsWhenCanceled: a load whose context is done reads nothing
// more and yields no runs, whatever the size of the sweep.
func TestLoadStopsWhenCanceled(t *testing.T) {
	dir := sweepdir.Write(t, 100_000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg, diags := Load(ctx, dir, LoadOptions{MaxRuns: 100_000})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	wantInterrupted(t, cfg, got)
	if diags[0].Subject == nil || diags[0].Subject.Filename != dir {
		t.Errorf("subject %v, want the directory", diags[0].Subject)
	}
}

// TestLoadStopsMidway: the context is looked at between files, blocks and
// sweep points, and inside long for expressions, so a load stopped at any
// of those points ends there, with only the one diagnostic.
func TestLoadStopsMidway(t *testing.T) {
	slowLocal := `locals {
  n = length([for i in range(256) : [for j in range(512) : "${i}-${j}"]])
}
experiment "e" {
  image = "img"
  args  = [local.n]
}
`
	// after is more looks than the load's phases and blocks take, so the
	// context is only done for a load that also looks inside the for
	// expression (128 looks in its 131,072 iterations) or at every sweep
	// point (100,000).
	tests := []struct {
		name  string
		src   string
		after int64
	}{
		{"in a for expression", slowLocal, 40},
		{"expanding a sweep", sweepSource(t, 100_000), 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "m.hcl"), []byte(tc.src), 0o644)
			ctx := countdown(tc.after)
			cfg, diags := Load(ctx, dir, LoadOptions{MaxRuns: 100_000})
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary)
			}
			wantInterrupted(t, cfg, got)
		})
	}
}

// sweepSource is the text of a sweepdir configuration of n runs.
func sweepSource(t *testing.T, n int) string {
	b, err := os.ReadFile(filepath.Join(sweepdir.Write(t, n), "sweep.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
