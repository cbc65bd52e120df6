// Package agent is caravan's node agent: a Prometheus collector that reads
// GPUs (through package gpu) and the local Nomad client at scrape time,
// attributes GPU processes to Nomad allocations and so to caravan runs, and
// a sampler that keeps per-run usage summaries and writes them to Nomad
// Variables (record.Usage) every minute and when a run ends.
//
// A run's CPU and memory come from Nomad's allocation stats when they hold
// a number, else from the run's cgroups, else from its processes in /proc;
// its network only from a network namespace of its own; its OOM kills from
// its cgroups and the kernel log; and the metrics its code writes from the
// file $CARAVAN_METRICS in its allocation directory, read as it grows.
// Every figure says where it came from, and a figure nothing measured is
// left out rather than reported as 0.
//
// On a spot machine a PreemptWatcher polls the cloud's metadata endpoint
// for a preemption notice (Metadata) and, on one, drains the node with the
// notice's deadline and moves the runs that checkpoint.
//
// The sampler and that watcher are the agent's only background loops; the collector never
// serves cached readings, so a scrape always shows the node as it is. What
// the agent keeps between snapshots (the last CPU reading for a rate, where
// a metrics file was read up to, a run's cgroup paths) is per allocation
// and dropped when the allocation has been gone a while.
package agent
