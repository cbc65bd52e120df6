package agent

import (
	"math"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// measure fills au's host use and metrics from the run's cgroups, its
// processes and its metrics file, reading only what Nomad's stats lack.
// scan maps every process on the node to its allocation; it is called only
// for a run whose cgroups were not found and whose figures need its
// processes.
func (a *Agent) measure(au *AllocUse, scan func() map[string][]int, now time.Time) {
	st := a.states.get(au.ID, now)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cgLookedAt.IsZero() || now.Sub(st.cgLookedAt) >= cgroupRelook {
		st.cgDirs, st.cgLookedAt = a.cgroups.find(au.ID), now
	}
	var nomadRSS, nomadMem, nomadCPU bool
	if u := au.Usage; u != nil {
		nomadRSS = u.MemoryStats != nil && u.MemoryStats.RSS > 0
		nomadMem = u.MemoryStats != nil && u.MemoryStats.Usage > 0
		nomadCPU = u.CpuStats != nil && u.CpuStats.Percent > 0
	}
	netDue := st.netPID == 0 && (st.netCheckedAt.IsZero() || now.Sub(st.netCheckedAt) >= netRecheck)
	metricsNeedPIDs := a.cfg.AllocDir == "" && st.metrics.tail.f == nil
	cg := a.cgroups.read(st.cgDirs, cgroupNeed{memory: !nomadRSS || !nomadMem, cpu: !nomadCPU, pids: netDue || metricsNeedPIDs})
	if !cg.Found {
		st.cgLookedAt = time.Time{} // the tasks are gone or not there yet: look again
	}
	pids := cg.PIDs
	if !cg.Found && (!nomadRSS || !nomadCPU || netDue || metricsNeedPIDs) {
		pids = scan()[au.ID]
	}
	var pu procUse
	if len(pids) > 0 && ((!nomadRSS && !cg.Found) || (!nomadCPU && !cg.HasCPU)) {
		pu = readProcUse(a.cfg.ProcRoot, pids)
	}
	au.Host = hostUse(au.Usage, cg, pu, st, now)
	a.measureNet(au, st, pids, netDue, now)
	a.readMetrics(st, au.ID, pids, now)
	au.Metrics = st.metrics.latest()
	au.MetricStep = math.NaN()
	if st.metrics.hasStep {
		au.MetricStep = st.metrics.step
	}
}

// measureNet reads the run's own network counters, when it has a network
// namespace of its own. Whether it does is checked when due, on pids.
func (a *Agent) measureNet(au *AllocUse, st *allocState, pids []int, due bool, now time.Time) {
	if due && len(pids) > 0 {
		a.hostNSOnce.Do(func() { a.hostNS = hostNetNS(a.cfg.ProcRoot) })
		st.netPID, st.netCheckedAt = ownNetPID(a.cfg.ProcRoot, a.hostNS, pids), now
	}
	if st.netPID == 0 {
		return
	}
	rx, tx, ok := netOf(a.cfg.ProcRoot, st.netPID)
	if !ok {
		st.netPID, st.netCheckedAt = 0, time.Time{} // the process is gone: find another
		return
	}
	au.Host.NetRx, au.Host.NetTx, au.Host.NetSource = rx, tx, record.SourceNetNS
}

// readMetrics reads what the run added to its metrics file since the last
// snapshot, opening the file once it exists.
func (a *Agent) readMetrics(st *allocState, allocID string, pids []int, now time.Time) {
	m := &st.metrics
	if m.tail.f == nil {
		f, path := openMetrics(a.cfg.ProcRoot, a.cfg.AllocDir, allocID, pids)
		if f == nil {
			return
		}
		m.tail, m.path = metricsTail{f: f}, path
		a.cfg.Logger.Debug("reading run metrics", "alloc", allocID, "file", path)
	}
	if err := m.tail.read(func(line []byte) { m.add(line, now) }); err != nil && m.reported&reportedReadErr == 0 {
		m.reported |= reportedReadErr
		a.cfg.Logger.Warn("reading a run's metrics file failed; its metrics stop here", "alloc", allocID, "file", m.path, "err", err)
	}
	a.reportMetricProblems(m, allocID)
}

// Problems with a metrics file, each logged once per run.
const (
	reportedReadErr = 1 << iota
	reportedBad
	reportedOverlong
	reportedSkipped
	reportedDropped
)

func (a *Agent) reportMetricProblems(m *runMetrics, allocID string) {
	log := a.cfg.Logger
	once := func(bit int, cond bool, msg string, args ...any) {
		if cond && m.reported&bit == 0 {
			m.reported |= bit
			log.Warn(msg, append([]any{"alloc", allocID, "file", m.path}, args...)...)
		}
	}
	once(reportedBad, m.bad > 0, `a run's metrics file has lines that are not JSON objects; they are skipped (write one object per line, e.g. {"step": 1, "loss": 0.5})`)
	once(reportedOverlong, m.tail.overlong > 0, "a run's metrics file has lines longer than the agent reads; they are skipped", "max_bytes", maxMetricLine)
	once(reportedSkipped, m.tail.skipped > 0, "a run wrote metrics faster than the agent reads them; older lines were skipped", "max_bytes_per_read", maxMetricRead)
	once(reportedDropped, m.dropped > 0, "a run wrote more distinct metrics than the agent keeps; the later names are dropped", "max_metrics", record.MaxMetrics)
}

// finalMetrics reads what is left of a run's metrics file, once the run
// has ended, and returns its series for the final usage summary.
func (a *Agent) finalMetrics(allocID string, start, now time.Time) []record.Metric {
	st := a.states.peek(allocID)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a.readMetrics(st, allocID, nil, now)
	return st.metrics.export(start)
}

// runMetricsOf returns a live run's metric series for its usage summary.
func (a *Agent) runMetricsOf(allocID string, start time.Time) []record.Metric {
	st := a.states.peek(allocID)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.metrics.export(start)
}

// kernelOOMs is how many OOM kills the kernel log named the run in.
func (a *Agent) kernelOOMs(allocID string) uint64 {
	st := a.states.peek(allocID)
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.kmsgOOMs
}

// OOMLog reads the kernel's OOM kills as they happen.
type OOMLog interface {
	// OOMKills returns the cgroup of each process the OOM killer killed
	// since the last call.
	OOMKills() []string
}

// readKernelLog counts the OOM kills the kernel logged in Nomad's cgroups
// against their runs. A kill that ends a run's last process is seen here
// even when Nomad removes the run's cgroup before the next sample.
func (a *Agent) readKernelLog(now time.Time) {
	if a.cfg.KernelLog == nil {
		return
	}
	for _, cg := range a.cfg.KernelLog.OOMKills() {
		id := allocFromCgroup([]byte("0::" + cg))
		if id == "" {
			continue
		}
		st := a.states.get(id, now)
		st.mu.Lock()
		st.kmsgOOMs++
		st.mu.Unlock()
		a.cfg.Logger.Info("the kernel's OOM killer killed a process of an allocation", "alloc", id, "cgroup", cg)
	}
}
