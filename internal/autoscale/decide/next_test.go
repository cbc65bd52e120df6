package decide

import (
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

func TestNextPlanned(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pl := &spec.Pool{Name: "gpu", GPUsPerNode: 2, MaxNodes: 4, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute}
	tests := []struct {
		name     string
		ps       PoolState
		hist     History
		grace    time.Duration
		warm     bool
		wantWhat string
		wantAt   time.Time
	}{
		{"nothing", PoolState{}, History{}, 0, false, "", time.Time{}},
		{"idle node", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady, LastBusy: now}}}, History{}, 0, false,
			"scale in idle node gpu-1 (idle_timeout 10m0s)", now.Add(10 * time.Minute)},
		{"idle node, min_idle", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady, LastBusy: now}}}, History{}, time.Minute, false,
			"scale in idle node gpu-1 (min_idle 1m0s)", now.Add(time.Minute)},
		{"idle node, min_idle and a warm buffer", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady, LastBusy: now}}}, History{}, time.Minute, true,
			"scale in idle node gpu-1 (min_idle 1m0s passed) unless the warm buffer keeps it; by idle_timeout 10m0s at the latest", now.Add(time.Minute)},
		{"busy node", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady, Allocs: 1}}}, History{}, time.Minute, false, "", time.Time{}},
		{"booting beats idle", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady, LastBusy: now}},
			Booting: []Machine{{Name: "gpu-2", RequestedAt: now.Add(-10 * time.Minute)}}}, History{}, 0, false,
			"replace gpu-2 unless it registers (boot_timeout)", now.Add(5 * time.Minute)},
		{"drained", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady}}}, History{Draining: map[string]time.Time{"gpu-1": now}}, 0, false,
			"remove drained node gpu-1", time.Time{}},
		{"removing", PoolState{Nodes: []Node{{Name: "gpu-1", Status: NodeReady}}}, History{Removing: map[string]time.Time{"gpu-1": now}}, 0, false,
			"remove drained node gpu-1", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			what, at := nextPlanned(tt.grace, tt.warm, pl, tt.ps, tt.hist)
			if what != tt.wantWhat || !at.Equal(tt.wantAt) {
				t.Errorf("got %q at %v, want %q at %v", what, at, tt.wantWhat, tt.wantAt)
			}
		})
	}
}
