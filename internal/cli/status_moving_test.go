package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestStatusCountsMovingRuns: a run being moved holds its GPUs and is
// listed as moving, not dropped from the pool's runs.
func TestStatusCountsMovingRuns(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	view := &query.Runs{Rows: []query.Run{
		{ID: "a-1", Pool: "gpu", State: record.StateMoving, GPUs: 2},
		{ID: "b-1", Pool: "gpu", State: record.StateRunning, GPUs: 1},
	}}
	pools := query.Pools(view, nil, nil, now)
	if len(pools) != 1 || pools[0].Running != 2 || pools[0].Moving != 1 || pools[0].RunningGPUs != 3 {
		t.Fatalf("pools %+v, want 2 runs on 3 GPUs, 1 moving", pools)
	}
	var b bytes.Buffer
	writeStatus(&b, pools)
	if !strings.Contains(b.String(), "moving:   1 run checkpointing") {
		t.Errorf("status does not show the moving run:\n%s", b.String())
	}
}
