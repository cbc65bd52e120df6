package sweepdir_test

import (
	"context"
	"testing"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/sweepdir"
)

func TestWriteExpandsToTheAskedRuns(t *testing.T) {
	for _, n := range []int{100, 1_000} {
		cfg, diags := spec.Load(context.Background(), sweepdir.Write(t, n), spec.LoadOptions{MaxRuns: n})
		if diags.HasErrors() {
			t.Fatalf("%d runs: %s", n, diags.Error())
		}
		if len(cfg.Runs) != n {
			t.Fatalf("%d runs asked, %d expanded", n, len(cfg.Runs))
		}
	}
}
