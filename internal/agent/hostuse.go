package agent

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// HostUse is a run's CPU, memory and network on its node. Each group of
// figures names its source (record.Source*), "" when the agent had none:
// the figures are then meaningless and are not exported.
type HostUse struct {
	RSS       float64 // bytes
	RSSSource string
	// Memory charged to the run (RSS, cache, kernel), its page cache and
	// its peak; Cache and MemMax are NaN when the source lacks them.
	MemUsage, Cache, MemMax float64
	MemSource               string
	CPU                     float64 // cores in use; NaN until a rate is known
	CPUSource               string
	OOMKills                uint64
	OOMSource               string
	// NetRx and NetTx count the bytes of the run's own network namespace.
	NetRx, NetTx uint64
	NetSource    string
}

func noHostUse() HostUse {
	nan := math.NaN()
	return HostUse{RSS: nan, MemUsage: nan, Cache: nan, MemMax: nan, CPU: nan}
}

// allocState is what the agent remembers of a run between snapshots: the
// last cumulative CPU reading, for a rate, and the run's metrics file.
type allocState struct {
	mu   sync.Mutex
	seen time.Time
	// The previous cumulative CPU reading and the rate it gave.
	cpuSource string
	cpuTotal  float64
	cpuAt     time.Time
	cpuRate   float64
	metrics   runMetrics
	// kmsgOOMs counts OOM kills the kernel log named the run's cgroups in.
	kmsgOOMs uint64
	// The run's cgroups, as last looked up, and when.
	cgDirs     []string
	cgLookedAt time.Time
	// netPID is a process of the run in a network namespace of its own,
	// 0 when its processes were in the host's at netCheckedAt.
	netPID       int
	netCheckedAt time.Time
}

// How often a run's cgroups are looked up again (a task that starts later
// gets its own), and how often a run in the host's network namespace is
// checked again for one of its own.
const (
	cgroupRelook = 30 * time.Second
	netRecheck   = time.Minute
)

// minRateSpan is the shortest interval a CPU rate is taken over: a scrape
// and a sample a few milliseconds apart would give noise.
const minRateSpan = time.Second

// cpuCores turns a cumulative CPU time into cores in use since the last
// reading from the same source; NaN until there are two readings.
func (st *allocState) cpuCores(source string, total float64, now time.Time) float64 {
	if source != st.cpuSource || total < st.cpuTotal {
		st.cpuSource, st.cpuTotal, st.cpuAt, st.cpuRate = source, total, now, math.NaN()
		return math.NaN()
	}
	if dt := now.Sub(st.cpuAt); dt >= minRateSpan {
		st.cpuRate = (total - st.cpuTotal) / dt.Seconds()
		st.cpuTotal, st.cpuAt = total, now
	}
	return st.cpuRate
}

// allocStates holds an allocState per allocation, dropped allocTTL after
// the allocation was last live.
type allocStates struct {
	mu sync.Mutex
	m  map[string]*allocState
}

func (s *allocStates) get(id string, now time.Time) *allocState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[id]
	if st == nil {
		st = &allocState{cpuRate: math.NaN()}
		s.m[id] = st
	}
	st.seen = now
	return st
}

// peek returns the state of id without marking it live, or nil.
func (s *allocStates) peek(id string) *allocState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *allocStates) expire(now time.Time) {
	s.mu.Lock()
	var gone []*allocState
	for id, st := range s.m {
		if now.Sub(st.seen) > allocTTL {
			gone = append(gone, st)
			delete(s.m, id)
		}
	}
	s.mu.Unlock()
	for _, st := range gone {
		st.mu.Lock()
		st.metrics.tail.close()
		st.mu.Unlock()
	}
}

// hostUse picks each figure's source for one run: Nomad's allocation stats
// when they hold a number, else the run's cgroups, else its processes in
// /proc (pids). Nomad reads the same cgroups for most drivers, but leaves
// its stats empty for some (raw_exec on cgroup v1 reports 0 RSS and CPU).
func hostUse(nu *api.ResourceUsage, cg cgroupUse, pu procUse, st *allocState, now time.Time) HostUse {
	h := noHostUse()
	if nu != nil && nu.MemoryStats != nil {
		m := nu.MemoryStats
		if m.RSS > 0 {
			h.RSS, h.RSSSource = float64(m.RSS), record.SourceNomad
		}
		if m.Usage > 0 {
			h.MemUsage, h.Cache, h.MemSource = float64(m.Usage), float64(m.Cache), record.SourceNomad
			if m.MaxUsage > 0 { // 0: Nomad did not measure it
				h.MemMax = float64(m.MaxUsage)
			}
		}
	}
	if cg.Found {
		if h.RSSSource == "" {
			h.RSS, h.RSSSource = float64(cg.Anon), record.SourceCgroup
		}
		if h.MemSource == "" {
			h.MemUsage, h.Cache, h.MemSource = float64(cg.Usage), float64(cg.File), record.SourceCgroup
			if cg.Peak > 0 { // memory.peak is new in Linux 5.19
				h.MemMax = float64(cg.Peak)
			}
		}
		h.OOMKills, h.OOMSource = cg.OOMKills, record.SourceCgroup
	}
	if h.RSSSource == "" && pu.N > 0 {
		h.RSS, h.RSSSource = float64(pu.RSS), record.SourceProc
	}
	switch {
	case nu != nil && nu.CpuStats != nil && nu.CpuStats.Percent > 0:
		h.CPU, h.CPUSource = nu.CpuStats.Percent/100, record.SourceNomad
	case cg.HasCPU:
		h.CPU, h.CPUSource = st.cpuCores(record.SourceCgroup, cg.CPUSeconds, now), record.SourceCgroup
	case pu.N > 0:
		h.CPU, h.CPUSource = st.cpuCores(record.SourceProc, pu.CPUSeconds, now), record.SourceProc
	}
	if math.IsNaN(h.CPU) {
		h.CPUSource = ""
	}
	if st.kmsgOOMs > h.OOMKills {
		h.OOMKills, h.OOMSource = st.kmsgOOMs, record.SourceKmsg
	}
	return h
}
