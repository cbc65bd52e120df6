package decide

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// BenchmarkDecide measures one decision for a pool of 200 nodes (half of
// them busy, some cordoned) against queues of 1k, 10k and 100k requests
// of mixed sizes, with max_nodes high enough that the whole queue is
// packed into new machines.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			pool := &spec.Pool{
				Name: "a100", GPUsPerNode: 8, CPUPerNode: 96000, MemoryPerNode: 1 << 40,
				MaxNodes: 100_000, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute,
			}
			ps := PoolState{Pool: pool, History: History{Cordoned: map[string]time.Time{}}}
			for i := range 200 {
				g := r.IntN(9)
				nd := dNode(fmt.Sprintf("a100-%d", i+1), g, min(g, 1))
				if g == 0 {
					nd = idle(nd, time.Duration(r.IntN(20))*time.Minute)
				} else if r.IntN(10) == 0 {
					nd.Eligible = false
					ps.History.Cordoned[nd.Name] = t0
				}
				ps.Nodes = append(ps.Nodes, nd)
			}
			sizes := []int{1, 1, 1, 1, 2, 4, 8}
			for i := range n {
				ps.Pending = append(ps.Pending, Request{
					ID:        fmt.Sprintf("r%d", i),
					Resources: Resources{GPUs: sizes[r.IntN(len(sizes))], CPU: 1000 * r.IntN(8), Memory: int64(r.IntN(64)) << 30},
					Since:     t0.Add(-time.Duration(r.IntN(600)) * time.Second),
				})
			}
			p := DefaultPolicy()
			b.ReportAllocs()
			for b.Loop() {
				d := p.DecidePool("a100", ps, t0)
				if len(d.Actions) == 0 {
					b.Fatal("no decision")
				}
			}
		})
	}
}
