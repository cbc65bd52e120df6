// Package agent is caravan's node agent: a Prometheus collector that reads
// GPUs (through package gpu) and the local Nomad client at scrape time,
// attributes GPU processes to Nomad allocations and so to caravan runs, and
// a sampler that keeps per-run usage summaries and writes them to Nomad
// Variables (record.Usage) every minute and when a run ends.
//
// The sampler is the agent's only background loop; the collector never
// serves cached readings, so a scrape always shows the node as it is.
package agent
