package agent

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// allocInfo is what the agent keeps about an allocation.
type allocInfo struct {
	ID         string
	Namespace  string
	JobID      string
	RunID      string // "" for allocations of jobs that are not caravan's
	Project    string // "" for a run of no project
	Experiment string
	GPUs       int
	MemLimit   int64    // bytes, summed over the allocation's tasks
	DeviceIDs  []string // allocated device instance IDs (GPU UUIDs)
	Running    bool
	Terminal   bool
}

// isRun reports whether the allocation belongs to a caravan run.
func (a *allocInfo) isRun() bool { return a != nil && a.RunID != "" }

func infoOf(a *api.Allocation) *allocInfo {
	in := &allocInfo{ID: a.ID, Namespace: a.Namespace, JobID: a.JobID,
		Running:  a.ClientStatus == api.AllocClientStatusRunning,
		Terminal: a.ClientTerminalStatus() || a.ServerTerminalStatus()}
	if a.Job != nil && nomad.IsCaravanJob(a.Job.Meta) {
		in.RunID = a.Job.Meta[record.MetaRunID]
		in.Project = a.Job.Meta[record.MetaProject]
		in.Experiment = a.Job.Meta[record.MetaExperiment]
		in.GPUs, _ = strconv.Atoi(a.Job.Meta[record.MetaGPUs])
	}
	if a.AllocatedResources != nil {
		for _, t := range a.AllocatedResources.Tasks {
			if t == nil {
				continue
			}
			mb := t.Memory.MemoryMaxMB
			if mb == 0 {
				mb = t.Memory.MemoryMB
			}
			in.MemLimit += mb << 20
			for _, d := range t.Devices {
				if d != nil && d.Type == "gpu" {
					in.DeviceIDs = append(in.DeviceIDs, d.DeviceIDs...)
				}
			}
		}
	}
	if in.GPUs == 0 {
		in.GPUs = len(in.DeviceIDs)
	}
	return in
}

// allocCache remembers allocations by ID. A job's meta never changes for
// a given allocation, so an entry is looked up once; entries not seen for
// allocTTL are dropped, and failed lookups are retried after missTTL.
type allocCache struct {
	mu      sync.Mutex
	entries map[string]*allocEntry
}

type allocEntry struct {
	info *allocInfo // nil: the lookup failed
	seen time.Time
}

const (
	allocTTL = 10 * time.Minute
	missTTL  = time.Minute
)

func newAllocCache() *allocCache { return &allocCache{entries: map[string]*allocEntry{}} }

func (c *allocCache) put(in *allocInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[in.ID] = &allocEntry{info: in, seen: now}
}

// get returns the allocation, asking Nomad when it is not cached.
func (c *allocCache) get(ctx context.Context, n Nomad, id string, now time.Time) (*allocInfo, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if ok && (e.info != nil || now.Sub(e.seen) < missTTL) {
		if e.info != nil {
			e.seen = now
		}
		c.mu.Unlock()
		return e.info, nil
	}
	c.mu.Unlock()
	if n == nil {
		return nil, nil
	}
	a, err := n.Allocation(ctx, "", id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.entries[id] = &allocEntry{seen: now}
		return nil, err
	}
	in := infoOf(a)
	c.entries[id] = &allocEntry{info: in, seen: now}
	return in, nil
}

// expire drops entries not seen for allocTTL.
func (c *allocCache) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		if now.Sub(e.seen) > allocTTL {
			delete(c.entries, id)
		}
	}
}
