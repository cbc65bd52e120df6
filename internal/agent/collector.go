package agent

import (
	"context"
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Label sets. Every series carries node and pool so that one dashboard
// spans the fleet; GPU series add the NVML index, UUID and model (as
// dcgm-exporter does), run series add run, experiment and alloc.
var (
	nodeLabels   = []string{"node", "pool"}
	gpuLabels    = []string{"node", "pool", "gpu", "uuid", "model"}
	runLabels    = []string{"node", "pool", "run", "experiment", "alloc"}
	runGPULabels = []string{"node", "pool", "gpu", "uuid", "model", "run", "experiment", "alloc"}
)

func desc(name, help string, labels []string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string(nil), labels...), extra...), nil)
}

// Collector is the agent's prometheus.Collector: every Collect takes a
// fresh Snapshot.
type Collector struct {
	agent *Agent
	descs collectorDescs
}

type collectorDescs struct {
	gpuInfo, gpuUtil, gpuMemUtil, gpuMemUsed, gpuMemTotal, gpuTemp, gpuPower, gpuPowerLimit,
	gpuSMClock, gpuECC, gpuPCIe, gpuProcs, gpuXID, gpuReadFailures,
	procMem, procUtil,
	runGPUUtil, runGPUMem, runGPUs, runCPU, runRSS, runCache, runMemUsage, runMemMax, runMemLimit,
	runOOMKills, runNetRx, runNetTx, runSource, runMetric, runMetricStep,
	netRx, netTx,
	sourceSuccess, sourceDuration *prometheus.Desc
}

// NewCollector returns the collector of a.
func NewCollector(a *Agent) *Collector {
	return &Collector{agent: a, descs: collectorDescs{
		gpuInfo:         desc("caravan_gpu_info", "A GPU on this node; source says whether NVML or the Nomad device plugin reported it.", gpuLabels, "source"),
		gpuUtil:         desc("caravan_gpu_utilization_ratio", "Fraction of the last sample period during which a kernel ran on the GPU.", gpuLabels),
		gpuMemUtil:      desc("caravan_gpu_memory_utilization_ratio", "Fraction of the last sample period during which GPU memory was read or written.", gpuLabels),
		gpuMemUsed:      desc("caravan_gpu_memory_used_bytes", "GPU memory in use.", gpuLabels),
		gpuMemTotal:     desc("caravan_gpu_memory_total_bytes", "GPU memory installed.", gpuLabels),
		gpuTemp:         desc("caravan_gpu_temperature_celsius", "GPU core temperature.", gpuLabels),
		gpuPower:        desc("caravan_gpu_power_watts", "GPU power draw.", gpuLabels),
		gpuPowerLimit:   desc("caravan_gpu_power_limit_watts", "GPU enforced power limit.", gpuLabels),
		gpuSMClock:      desc("caravan_gpu_sm_clock_hertz", "GPU streaming multiprocessor clock.", gpuLabels),
		gpuECC:          desc("caravan_gpu_ecc_errors_total", "GPU memory ECC errors since the driver loaded, by type (corrected or uncorrected).", gpuLabels, "type"),
		gpuPCIe:         desc("caravan_gpu_pcie_throughput_bytes_per_second", "GPU PCIe throughput over the last 20 ms, by direction (tx or rx).", gpuLabels, "direction"),
		gpuProcs:        desc("caravan_gpu_processes", "Compute processes running on the GPU.", gpuLabels),
		gpuXID:          desc("caravan_gpu_xid_errors_total", "XID errors reported by the driver since the agent started, by XID code.", gpuLabels, "xid"),
		gpuReadFailures: desc("caravan_gpu_read_failures_total", "Failed reads of a GPU since the agent started, by reason (error or timeout).", gpuLabels, "reason"),
		procMem:         desc("caravan_gpu_unattributed_process_memory_used_bytes", "GPU memory used by a process that belongs to no caravan run.", gpuLabels, "pid", "comm"),
		procUtil:        desc("caravan_gpu_unattributed_process_utilization_ratio", "SM utilisation of a process that belongs to no caravan run, from its latest sample.", gpuLabels, "pid", "comm"),
		runGPUUtil:      desc("caravan_run_gpu_utilization_ratio", "Utilisation of a GPU held by a run.", runGPULabels),
		runGPUMem:       desc("caravan_run_gpu_memory_used_bytes", "GPU memory used by a run's processes on a GPU (the whole GPU's use when its processes are not visible).", runGPULabels),
		runGPUs:         desc("caravan_run_gpus", "GPUs held by a run on this node.", runLabels),
		runCPU:          desc("caravan_run_cpu_cores", "CPU cores in use by a run's allocation; caravan_run_usage_source says where the figure came from.", runLabels),
		runRSS:          desc("caravan_run_memory_rss_bytes", "Resident memory of a run's allocation; caravan_run_usage_source says where the figure came from.", runLabels),
		runCache:        desc("caravan_run_memory_cache_bytes", "Page cache charged to a run's allocation.", runLabels),
		runMemUsage:     desc("caravan_run_memory_usage_bytes", "Memory charged to a run's allocation (RSS, cache and kernel).", runLabels),
		runMemMax:       desc("caravan_run_memory_max_usage_bytes", "Peak memory charged to a run's allocation.", runLabels),
		runMemLimit:     desc("caravan_run_memory_limit_bytes", "Memory limit of a run's allocation.", runLabels),
		runOOMKills:     desc("caravan_run_oom_kills_total", "Processes of a run the kernel's OOM killer killed, from its cgroups or the kernel log.", runLabels),
		runNetRx:        desc("caravan_run_network_receive_bytes_total", "Bytes received in a run's own network namespace (absent when the run shares the host's network).", runLabels),
		runNetTx:        desc("caravan_run_network_transmit_bytes_total", "Bytes sent in a run's own network namespace (absent when the run shares the host's network).", runLabels),
		runSource:       desc("caravan_run_usage_source", "Where a run's figure (cpu, rss, memory, oom_kills, network) comes from: nomad, cgroup, proc, kmsg or netns. A figure without a source is not exported.", runLabels, "figure", "source"),
		runMetric:       desc("caravan_run_metric", "The latest value of a metric the run wrote to $CARAVAN_METRICS, by name.", runLabels, "name"),
		runMetricStep:   desc("caravan_run_metric_step", "The latest step the run wrote to $CARAVAN_METRICS.", runLabels),
		netRx:           desc("caravan_node_network_receive_bytes_total", "Bytes received by a host network interface.", nodeLabels, "device"),
		netTx:           desc("caravan_node_network_transmit_bytes_total", "Bytes sent by a host network interface.", nodeLabels, "device"),
		sourceSuccess:   desc("caravan_agent_source_success", "Whether the last read of a source (nvml, nvml_events or nomad) succeeded.", nodeLabels, "source"),
		sourceDuration:  desc("caravan_agent_source_duration_seconds", "How long the last read of a source (nvml, nvml_events or nomad) took.", nodeLabels, "source"),
	}}
}

// Describe sends every metric the collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := c.descs
	for _, x := range []*prometheus.Desc{d.gpuInfo, d.gpuUtil, d.gpuMemUtil, d.gpuMemUsed, d.gpuMemTotal, d.gpuTemp,
		d.gpuPower, d.gpuPowerLimit, d.gpuSMClock, d.gpuECC, d.gpuPCIe, d.gpuProcs, d.gpuXID, d.gpuReadFailures,
		d.procMem, d.procUtil, d.runGPUUtil, d.runGPUMem, d.runGPUs, d.runCPU, d.runRSS, d.runCache, d.runMemUsage,
		d.runMemMax, d.runMemLimit, d.runOOMKills, d.runNetRx, d.runNetTx, d.runSource, d.runMetric, d.runMetricStep, d.netRx, d.netTx, d.sourceSuccess, d.sourceDuration} {
		ch <- x
	}
}

// Collect reads the node and sends its metrics. The Collector interface
// passes no context; Snapshot bounds itself with Config.ScrapeTimeout and
// each device read with the gpu.Reader's deadline.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.write(c.agent.Snapshot(context.Background()), ch)
}

func (c *Collector) write(s *Snapshot, ch chan<- prometheus.Metric) {
	out := sink(ch)
	c.writeGPUs(out, s)
	c.writeFaults(out, s)
	c.writeProcs(out, s)
	for _, au := range s.Allocs {
		c.writeAlloc(out, s, au)
	}
	node, pool := c.agent.cfg.Node, c.agent.cfg.Pool
	for _, n := range s.Net {
		out.counter(c.descs.netRx, float64(n.RxByte), node, pool, n.Name)
		out.counter(c.descs.netTx, float64(n.TxByte), node, pool, n.Name)
	}
	c.writeSources(out, s)
}

// sink sends constant metrics, leaving out a figure that is NaN (unknown),
// so that a missing reading is an absent series rather than a false zero.
type sink chan<- prometheus.Metric

func (o sink) send(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) {
	if !math.IsNaN(v) {
		o <- prometheus.MustNewConstMetric(desc, typ, v, labels...)
	}
}

func (o sink) gauge(desc *prometheus.Desc, v float64, labels ...string) {
	o.send(desc, prometheus.GaugeValue, v, labels...)
}

func (o sink) counter(desc *prometheus.Desc, v float64, labels ...string) {
	o.send(desc, prometheus.CounterValue, v, labels...)
}

// gpuLabels are the labels that name a GPU on this node.
func (c *Collector) gpuLabels(g GPUStat) []string {
	return []string{c.agent.cfg.Node, c.agent.cfg.Pool, strconv.Itoa(g.Index), g.UUID, g.Name}
}

// writeGPUs sends each GPU's info series, and its readings when the last
// read of it succeeded.
func (c *Collector) writeGPUs(out sink, s *Snapshot) {
	d := &c.descs
	for _, g := range s.GPUs {
		l := c.gpuLabels(g)
		out.gauge(d.gpuInfo, 1, append(l, g.Source)...)
		if g.Err != nil {
			continue
		}
		out.gauge(d.gpuUtil, g.Util, l...)
		out.gauge(d.gpuMemUtil, g.MemUtil, l...)
		if g.MemTotal > 0 {
			out.gauge(d.gpuMemUsed, float64(g.MemUsed), l...)
			out.gauge(d.gpuMemTotal, float64(g.MemTotal), l...)
		}
		out.gauge(d.gpuTemp, g.TempC, l...)
		out.gauge(d.gpuPower, g.PowerW, l...)
		out.gauge(d.gpuPowerLimit, g.PowerLimit, l...)
		out.gauge(d.gpuSMClock, g.SMClockHz, l...)
		if g.ECCCorrected >= 0 {
			out.counter(d.gpuECC, float64(g.ECCCorrected), append(l, "corrected")...)
		}
		if g.ECCUncorrected >= 0 {
			out.counter(d.gpuECC, float64(g.ECCUncorrected), append(l, "uncorrected")...)
		}
		out.gauge(d.gpuPCIe, g.PCIeTxBps, append(l, "tx")...)
		out.gauge(d.gpuPCIe, g.PCIeRxBps, append(l, "rx")...)
		if g.Source == "nvml" {
			out.gauge(d.gpuProcs, float64(len(g.Processes)), l...)
		}
	}
}

// writeFaults sends the read failures and XID errors counted per GPU.
func (c *Collector) writeFaults(out sink, s *Snapshot) {
	d := &c.descs
	node, pool := c.agent.cfg.Node, c.agent.cfg.Pool
	for _, f := range s.Failures {
		l := []string{node, pool, strconv.Itoa(f.Index), f.UUID, f.Name}
		out.counter(d.gpuReadFailures, float64(f.Errors), append(l, "error")...)
		out.counter(d.gpuReadFailures, float64(f.Timeouts), append(l, "timeout")...)
	}
	for _, x := range s.XIDs {
		l := []string{node, pool, strconv.Itoa(x.Index), x.UUID, x.Name, strconv.FormatUint(x.Code, 10)}
		out.counter(d.gpuXID, float64(x.Count), l...)
	}
}

// writeProcs sends the GPU processes that belong to no run: work outside
// Nomad, which holds GPU memory nobody scheduled.
func (c *Collector) writeProcs(out sink, s *Snapshot) {
	d := &c.descs
	for _, p := range s.Procs {
		if p.Alloc != nil {
			continue
		}
		l := []string{c.agent.cfg.Node, c.agent.cfg.Pool, strconv.Itoa(p.GPU.Index), p.GPU.UUID, p.GPU.Name, strconv.FormatUint(uint64(p.PID), 10), p.Comm}
		out.gauge(d.procMem, float64(p.Mem), l...)
		out.gauge(d.procUtil, p.Util, l...)
	}
}

// writeAlloc sends one run's GPUs, their use, and its host figures.
func (c *Collector) writeAlloc(out sink, s *Snapshot, au *AllocUse) {
	d := &c.descs
	rl := []string{c.agent.cfg.Node, c.agent.cfg.Pool, au.RunID, au.Experiment, au.ID}
	out.gauge(d.runGPUs, float64(len(au.GPUs)), rl...)
	for _, gi := range au.GPUs {
		g := s.GPUs[gi]
		if g.Err != nil {
			continue
		}
		l := append(c.gpuLabels(g), au.RunID, au.Experiment, au.ID)
		out.gauge(d.runGPUUtil, g.Util, l...)
		out.gauge(d.runGPUMem, runGPUMem(s, au, g), l...)
	}
	if au.MemLimit > 0 {
		out.gauge(d.runMemLimit, float64(au.MemLimit), rl...)
	}
	c.writeHost(out, au, rl)
}

// writeSources sends, for each source the agent read, whether the read
// succeeded and how long it took: node_exporter's collector success gauge.
func (c *Collector) writeSources(out sink, s *Snapshot) {
	d := &c.descs
	node, pool := c.agent.cfg.Node, c.agent.cfg.Pool
	source := func(name string, tried, ok bool, seconds float64) {
		if !tried {
			return
		}
		v := 0.0
		if ok {
			v = 1
		}
		out.gauge(d.sourceSuccess, v, node, pool, name)
		out.gauge(d.sourceDuration, seconds, node, pool, name)
	}
	source("nvml", s.NVMLTried || c.agent.cfg.GPUErr != nil, s.NVMLOK, s.NVMLSeconds)
	source("nvml_events", s.NVMLTried, s.NVMLEventsOK, s.NVMLEventsSeconds)
	source("nomad", s.NomadTried, s.NomadOK, s.NomadSeconds)
}

// writeHost sends a run's host figures, each only when it has a source,
// with the source beside it, and the metrics the run wrote itself.
func (c *Collector) writeHost(out sink, au *AllocUse, rl []string) {
	d := &c.descs
	h := au.Host
	send := out.send
	source := func(figure, src string) {
		send(d.runSource, prometheus.GaugeValue, 1, append(rl[:len(rl):len(rl)], figure, src)...)
	}
	if h.CPUSource != "" {
		send(d.runCPU, prometheus.GaugeValue, h.CPU, rl...)
		source("cpu", h.CPUSource)
	}
	if h.RSSSource != "" {
		send(d.runRSS, prometheus.GaugeValue, h.RSS, rl...)
		source("rss", h.RSSSource)
	}
	if h.MemSource != "" {
		send(d.runMemUsage, prometheus.GaugeValue, h.MemUsage, rl...)
		send(d.runCache, prometheus.GaugeValue, h.Cache, rl...)
		send(d.runMemMax, prometheus.GaugeValue, h.MemMax, rl...)
		source("memory", h.MemSource)
	}
	if h.OOMSource != "" {
		send(d.runOOMKills, prometheus.CounterValue, float64(h.OOMKills), rl...)
		source("oom_kills", h.OOMSource)
	}
	if h.NetSource != "" {
		send(d.runNetRx, prometheus.CounterValue, float64(h.NetRx), rl...)
		send(d.runNetTx, prometheus.CounterValue, float64(h.NetTx), rl...)
		source("network", h.NetSource)
	}
	for _, m := range au.Metrics {
		send(d.runMetric, prometheus.GaugeValue, m.Value, append(rl[:len(rl):len(rl)], m.Name)...)
	}
	send(d.runMetricStep, prometheus.GaugeValue, au.MetricStep, rl...)
}

// runGPUMem is the GPU memory a run uses on g: its processes' memory when
// NVML lists them, else the whole GPU's (Nomad gives a run whole GPUs);
// NaN when neither is known (a device plugin that reports no memory).
func runGPUMem(s *Snapshot, au *AllocUse, g GPUStat) float64 {
	var sum uint64
	found := false
	for _, p := range s.Procs {
		if p.Alloc != nil && p.Alloc.ID == au.ID && p.GPU.UUID == g.UUID {
			sum += p.Mem
			found = true
		}
	}
	switch {
	case found:
		return float64(sum)
	case g.MemTotal > 0:
		return float64(g.MemUsed)
	}
	return math.NaN()
}
