package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/gpu"
)

// Config wires an Agent.
type Config struct {
	Node   string // node name label
	NodeID string // Nomad node ID; "" lists no allocations, only those found through GPU processes
	Pool   string // pool label: the node's Nomad node pool, not necessarily the caravan pool name
	// ProcRoot is the host's /proc (default "/proc"); "/host/proc" when the
	// agent runs in a container with the host's /proc mounted.
	ProcRoot string
	// CgroupRoot is where the host's cgroup hierarchies are mounted
	// (default "/sys/fs/cgroup"), and CgroupParent Nomad's cgroup parent
	// ("" for its default: nomad.slice on cgroup v2, nomad on v1).
	CgroupRoot   string
	CgroupParent string
	// AllocDir is the Nomad client's allocation directory on the host,
	// where a run's metrics file stays after its processes end; "" when
	// unknown (the file is then found only through the run's processes).
	AllocDir string
	// KernelLog names the runs the kernel's OOM killer killed in; nil
	// when the kernel log cannot be read.
	KernelLog OOMLog
	// GPU reads the GPUs; nil when NVML is unavailable (GPUErr says why),
	// and then the Nomad device plugin's stats stand in.
	GPU    *gpu.Reader
	GPUErr error
	Nomad  Nomad // nil: no Nomad source
	Logger *slog.Logger
	// ScrapeTimeout bounds one snapshot (default 5 s). Device reads have
	// their own, shorter deadline in the gpu.Reader.
	ScrapeTimeout time.Duration
	Now           func() time.Time
}

// Agent gathers snapshots of the node for the collector and the sampler.
type Agent struct {
	cfg     Config
	allocs  *allocCache
	states  *allocStates
	cgroups *cgroupFS

	hostNSOnce sync.Once
	hostNS     string

	// sourceOK remembers each source's last state, so that failures are
	// logged when they start and stop rather than on every scrape.
	logMu    sync.Mutex
	sourceOK map[string]bool
}

func (a *Agent) logSource(source string, ok bool, err error) {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	was, seen := a.sourceOK[source]
	a.sourceOK[source] = ok
	switch {
	case !ok && (was || !seen):
		a.cfg.Logger.Warn("reading a source failed; its metrics are missing until it recovers", "source", source, "err", err)
	case ok && seen && !was:
		a.cfg.Logger.Info("source recovered", "source", source)
	}
}

// New returns an Agent; zero Config fields get their defaults.
func New(cfg Config) *Agent {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/sys/fs/cgroup"
	}
	return &Agent{cfg: cfg, allocs: newAllocCache(), states: &allocStates{m: map[string]*allocState{}},
		cgroups: &cgroupFS{root: cfg.CgroupRoot, parent: cfg.CgroupParent}, sourceOK: map[string]bool{}}
}

// GPUStat is one device as the snapshot saw it.
type GPUStat struct {
	gpu.Stats
	Source string // "nvml" or "nomad"
	Err    error
}

// ProcUse is one GPU process with its attribution.
type ProcUse struct {
	GPU   gpu.Device
	PID   uint32
	Comm  string
	Mem   uint64
	Util  float64    // NaN without a sample
	Alloc *allocInfo // nil: not a caravan run's process
}

// AllocUse is one caravan run's allocation on this node.
type AllocUse struct {
	*allocInfo
	Usage *api.ResourceUsage // nil when Nomad's stats could not be read
	GPUs  []int              // indexes into Snapshot.GPUs of the GPUs it holds
	// Host is the run's CPU, memory and network, each from the best
	// source there was.
	Host HostUse
	// Metrics are the latest values the run wrote to its metrics file,
	// by name, and MetricStep the latest step (NaN: none yet).
	Metrics    []MetricValue
	MetricStep float64
}

// Snapshot is the node at one instant.
type Snapshot struct {
	Time     time.Time
	GPUs     []GPUStat
	Procs    []ProcUse
	Allocs   []*AllocUse
	Net      []netDev
	XIDs     []gpu.XIDCount
	Failures []gpu.Failures
	// Source health, node_exporter style: which sources were tried, whether
	// they answered, and how long they took. The XID event poll is a source
	// of its own (nvml_events): a hung poll costs the XID counts, not the
	// device readings.
	NVMLTried, NVMLOK   bool
	NVMLEventsOK        bool
	NomadTried, NomadOK bool
	NVMLSeconds         float64
	NVMLEventsSeconds   float64
	NomadSeconds        float64
	// AllocsListed is true when the node's allocation list was read, so
	// absent allocations really are gone.
	AllocsListed bool
}

// Snapshot reads the node now.
func (a *Agent) Snapshot(ctx context.Context) *Snapshot {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ScrapeTimeout)
	defer cancel()
	now := a.cfg.Now()
	s := &Snapshot{Time: now}

	// NVML and the node's allocation list do not depend on each other, so
	// they are read concurrently.
	var wg sync.WaitGroup
	var allocList []*api.Allocation
	var listErr error
	if a.cfg.Nomad != nil && a.cfg.NodeID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			allocList, listErr = a.cfg.Nomad.NodeAllocations(ctx, a.cfg.NodeID)
		}()
	}
	a.readGPUs(ctx, s)
	wg.Wait()
	s.Net, _ = readNetDev(a.cfg.ProcRoot)

	nomadStart := a.cfg.Now()
	var nomadErrs []error
	live := map[string]*allocInfo{}
	if a.cfg.Nomad != nil {
		s.NomadTried = true
		if a.cfg.NodeID != "" {
			if listErr != nil {
				nomadErrs = append(nomadErrs, listErr)
			} else {
				s.AllocsListed = true
				for _, al := range allocList {
					in := infoOf(al)
					a.allocs.put(in, now)
					if in.isRun() && in.Running {
						live[in.ID] = in
					}
				}
			}
		}
	}
	a.attribute(ctx, s, live, &nomadErrs)
	if a.cfg.Nomad != nil {
		if !s.NVMLOK {
			a.deviceFallback(ctx, s, &nomadErrs)
		}
		a.allocStats(ctx, s, live, &nomadErrs)
		s.NomadOK = len(nomadErrs) == 0
		s.NomadSeconds = a.cfg.Now().Sub(nomadStart).Seconds()
		a.logSource("nomad", s.NomadOK, errors.Join(nomadErrs...))
	}
	a.allocs.expire(now)
	a.states.expire(now)
	return s
}

func (a *Agent) readGPUs(ctx context.Context, s *Snapshot) {
	if a.cfg.GPU == nil {
		return
	}
	s.NVMLTried = true
	start := a.cfg.Now()
	res := a.cfg.GPU.ReadAll(ctx)
	for _, r := range res {
		s.GPUs = append(s.GPUs, GPUStat{Stats: r.Stats, Source: "nvml", Err: r.Err})
		if r.Err == nil {
			s.NVMLOK = true
		} else {
			a.cfg.Logger.Debug("GPU read failed", "gpu", r.Index, "uuid", r.UUID, "err", r.Err)
		}
	}
	if len(res) == 0 {
		s.NVMLOK = true // a node without GPUs read fine
	}
	var errs []error
	for _, r := range res {
		errs = append(errs, r.Err)
	}
	a.logSource("nvml", s.NVMLOK, errors.Join(errs...))
	s.Failures = a.cfg.GPU.Failures()
	s.NVMLSeconds = a.cfg.Now().Sub(start).Seconds()

	start = a.cfg.Now()
	xids, err := a.cfg.GPU.PollXIDs(ctx)
	s.XIDs, s.NVMLEventsOK = xids, err == nil
	s.NVMLEventsSeconds = a.cfg.Now().Sub(start).Seconds()
	a.logSource("nvml_events", s.NVMLEventsOK, err)
}

// attribute maps every GPU process to its allocation, and adds allocations
// found this way (when the node's list is unavailable) to live.
func (a *Agent) attribute(ctx context.Context, s *Snapshot, live map[string]*allocInfo, errs *[]error) {
	for gi := range s.GPUs {
		g := &s.GPUs[gi]
		if g.Err != nil {
			continue
		}
		for _, p := range g.Processes {
			pi := readProc(a.cfg.ProcRoot, p.PID)
			pu := ProcUse{GPU: g.Device, PID: p.PID, Comm: pi.Comm, Mem: p.UsedMemory, Util: p.SMUtil}
			if pi.AllocID != "" {
				in, err := a.allocs.get(ctx, a.cfg.Nomad, pi.AllocID, s.Time)
				if err != nil {
					*errs = append(*errs, err)
				}
				if in.isRun() {
					pu.Alloc = in
					if _, ok := live[in.ID]; !ok && !s.AllocsListed && !in.Terminal {
						live[in.ID] = in
					}
				}
			}
			s.Procs = append(s.Procs, pu)
		}
	}
}

// allocStats reads each live run's usage and links it to its GPUs: those
// Nomad allocated to it and those its processes are on.
func (a *Agent) allocStats(ctx context.Context, s *Snapshot, live map[string]*allocInfo, errs *[]error) {
	ids := make([]string, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.Allocs = make([]*AllocUse, len(ids))
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	a.readKernelLog(s.Time)
	scan := sync.OnceValue(func() map[string][]int { return scanProcs(a.cfg.ProcRoot) })
	for i, id := range ids {
		au := &AllocUse{allocInfo: live[id]}
		s.Allocs[i] = au
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			u, err := a.cfg.Nomad.AllocationStats(ctx, id)
			if err != nil {
				mu.Lock()
				*errs = append(*errs, err)
				mu.Unlock()
			} else {
				au.Usage = u.ResourceUsage
			}
			a.measure(au, scan, s.Time)
		}()
	}
	wg.Wait()
	byUUID := map[string]int{}
	for i, g := range s.GPUs {
		byUUID[g.UUID] = i
	}
	for _, au := range s.Allocs {
		set := map[int]bool{}
		for _, id := range au.DeviceIDs {
			if i, ok := byUUID[id]; ok {
				set[i] = true
			}
		}
		for _, p := range s.Procs {
			if p.Alloc != nil && p.Alloc.ID == au.ID {
				set[byUUID[p.GPU.UUID]] = true
			}
		}
		if au.Usage != nil {
			for _, dg := range au.Usage.DeviceStats {
				for id := range dg.InstanceStats {
					if i, ok := byUUID[id]; ok {
						set[i] = true
					}
				}
			}
		}
		for i := range set {
			au.GPUs = append(au.GPUs, i)
		}
		slices.Sort(au.GPUs)
	}
}
