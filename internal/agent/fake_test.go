package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

const (
	allocA = "6d5a3b0e-1111-4a2b-8c3d-000000000001" // run resnet50-1a2b3c4d, PIDs 1000 (cgroup v2) and 1001 (environ)
	allocB = "9f8e7d6c-2222-4b3c-9d4e-000000000002" // run bert-5e6f7a8b, PID 1002 (cgroup v1)
	allocC = "0c0c0c0c-3333-4c4d-8e5f-000000000003" // a non-caravan job on the node
	nodeID = "50fd6692-4006-9c4b-25b3-057bef3e5285"
)

var errDown = errors.New("nomad: connection refused")

// fakeNomad is a hand-written Nomad with canned allocations and stats.
type fakeNomad struct {
	mu       sync.Mutex
	allocs   map[string]*api.Allocation
	stats    map[string]*api.AllocResourceUsage
	host     *api.HostStats
	listErr  error
	statsErr error
	calls    map[string]int
	usage    []record.Usage // PutUsage writes, in order
}

func newFakeNomad() *fakeNomad {
	f := &fakeNomad{allocs: map[string]*api.Allocation{}, stats: map[string]*api.AllocResourceUsage{}, calls: map[string]int{}}
	f.allocs[allocA] = mkAlloc(allocA, "resnet50-1a2b3c4d", "resnet50", []string{"GPU-00000000-0000-4000-8000-000000000000"})
	f.allocs[allocB] = mkAlloc(allocB, "bert-5e6f7a8b", "bert", []string{"GPU-00000000-0000-4000-8000-000000000001"})
	c := mkAlloc(allocC, "", "", nil)
	c.Job.Meta = map[string]string{"team": "web"}
	f.allocs[allocC] = c
	f.stats[allocA] = mkUsage(8<<30, 1<<30, 250)
	f.stats[allocB] = mkUsage(4<<30, 0, 100)
	f.stats[allocC] = mkUsage(1<<20, 0, 1)
	return f
}

func mkAlloc(id, run, exp string, gpus []string) *api.Allocation {
	meta := map[string]string{record.MetaManagedBy: record.ManagedByValue, record.MetaRunID: run, record.MetaExperiment: exp}
	return &api.Allocation{ID: id, Namespace: "default", JobID: run, ClientStatus: api.AllocClientStatusRunning,
		DesiredStatus: api.AllocDesiredStatusRun, Job: &api.Job{Meta: meta},
		AllocatedResources: &api.AllocatedResources{Tasks: map[string]*api.AllocatedTaskResources{
			"train": {Memory: api.AllocatedMemoryResources{MemoryMB: 16384},
				Devices: []*api.AllocatedDeviceResource{{Vendor: "nvidia", Type: "gpu", Name: "H100", DeviceIDs: gpus}}}}}}
}

func mkUsage(rss, cache uint64, cpuPercent float64) *api.AllocResourceUsage {
	return &api.AllocResourceUsage{ResourceUsage: &api.ResourceUsage{
		MemoryStats: &api.MemoryStats{RSS: rss, Cache: cache, Usage: rss + cache, MaxUsage: rss + cache + 1<<20},
		CpuStats:    &api.CpuStats{Percent: cpuPercent},
	}}
}

func (f *fakeNomad) count(name string) {
	f.mu.Lock()
	f.calls[name]++
	f.mu.Unlock()
}

func (f *fakeNomad) NodeAllocations(_ context.Context, node string) ([]*api.Allocation, error) {
	f.count("NodeAllocations")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	if node != nodeID {
		return nil, errors.New("no such node")
	}
	var out []*api.Allocation
	for _, a := range f.allocs {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeNomad) Allocation(_ context.Context, _, id string) (*api.Allocation, error) {
	f.count("Allocation")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	a, ok := f.allocs[id]
	if !ok {
		return nil, errors.New("allocation not found")
	}
	return a, nil
}

func (f *fakeNomad) AllocationStats(_ context.Context, id string) (*api.AllocResourceUsage, error) {
	f.count("AllocationStats")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statsErr != nil {
		return nil, f.statsErr
	}
	s, ok := f.stats[id]
	if !ok {
		return nil, errors.New("no stats")
	}
	return s, nil
}

func (f *fakeNomad) ClientStats(context.Context, string) (*api.HostStats, error) {
	f.count("ClientStats")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.host == nil {
		return nil, errDown
	}
	return f.host, nil
}

func (f *fakeNomad) PutUsage(_ context.Context, _ string, u *record.Usage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage = append(f.usage, *u)
	return nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
