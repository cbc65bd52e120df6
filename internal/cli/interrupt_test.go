package cli

import (
	"context"
	"testing"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/sweepdir"
	"github.com/hashicorp/nomad/api"
)

// TestCompileStopsWhenCanceled: compiling is the longer half of validate
// (a second for 100,000 runs), so it stops too once the context is done.
func TestCompileStopsWhenCanceled(t *testing.T) {
	cfg, diags := spec.Load(context.Background(), sweepdir.Write(t, 10_000), spec.LoadOptions{MaxRuns: 10_000})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	compiled := 0
	diags = compileEach(ctx, cfg, compile.Options{}, "", func(spec.Run, *api.Job) { compiled++ })
	if len(diags) != 1 || diags[0].Summary != "Interrupted" || compiled != 0 {
		t.Errorf("diags %v, %d runs compiled; want one Interrupted and none", diags, compiled)
	}
}
