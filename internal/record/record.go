package record

import (
	"encoding/json"
	"time"
)

// Variable paths. A run's record lives at Prefix+runID and its usage
// summary at Prefix+runID+UsageSuffix. Records are never deleted by
// caravan's normal operation: they are a run's history and outlive the job,
// which Nomad's garbage collector eventually removes.
const (
	Prefix      = "caravan/runs/"
	UsageSuffix = "/usage"
)

// Path is the Variable path of a run's record.
func Path(runID string) string { return Prefix + runID }

// UsagePath is the Variable path of a run's usage summary.
func UsagePath(runID string) string { return Prefix + runID + UsageSuffix }

// Run is the record caravan writes for each run at submit time. It holds
// enough to reproduce the run without the files it came from.
type Run struct {
	RunID       string           `json:"run_id"`
	Experiment  string           `json:"experiment"`
	Pool        string           `json:"pool"`
	NodePool    string           `json:"node_pool"`
	Namespace   string           `json:"namespace"`
	GPUs        int              `json:"gpus"`
	Params      map[string]any   `json:"params"`
	SpecHash    string           `json:"spec_hash"`
	Spec        json.RawMessage  `json:"spec"` // the resolved run spec, as compile hashed it
	Job         json.RawMessage  `json:"job"`  // the compiled job, api.Job JSON
	Config      ConfigProvenance `json:"config"`
	SubmittedBy string           `json:"submitted_by,omitempty"` // ACL token name/accessor when known
	SubmittedAt time.Time        `json:"submitted_at"`
	RerunOf     string           `json:"rerun_of,omitempty"`
	// PricePerHour is the pool's node price when known, for cost reports.
	PricePerHour float64           `json:"price_per_hour,omitempty"`
	GPUsPerNode  int               `json:"gpus_per_node,omitempty"`
	Extra        map[string]string `json:"extra,omitempty"`
}

// ConfigProvenance says which configuration produced a run.
type ConfigProvenance struct {
	Dir    string `json:"dir"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty"`
}

// Usage is the agent's compact summary of a run's resource use, written to
// Prefix+runID+UsageSuffix every minute while the run lives and once
// when it ends.
type Usage struct {
	RunID       string    `json:"run_id"`
	AllocID     string    `json:"alloc_id"`
	Node        string    `json:"node"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`     // last sample
	Final       bool      `json:"final"`   // true once the run ended
	Samples     int       `json:"samples"` // samples taken
	IntervalS   float64   `json:"interval_s"`
	GPUs        int       `json:"gpus"` // GPUs the run held
	GPUUUIDs    []string  `json:"gpu_uuids,omitempty"`
	GPUUtilMean float64   `json:"gpu_util_mean"` // ratio 0-1, averaged over the run's GPUs and time
	GPUUtilPeak float64   `json:"gpu_util_peak"`
	GPUMemPeak  int64     `json:"gpu_mem_peak_bytes"`
	GPUMemTotal int64     `json:"gpu_mem_total_bytes"` // per-run total of its GPUs' memory
	RSSPeak     int64     `json:"rss_peak_bytes"`
	MemLimit    int64     `json:"mem_limit_bytes"`
	XIDs        []XID     `json:"xids,omitempty"`
	// Timeline holds down-sampled series, at most MaxTimelinePoints each.
	Timeline Timeline `json:"timeline"`
}

// MaxTimelinePoints bounds each series of a Usage timeline.
const MaxTimelinePoints = 512

// Timeline is a set of series sharing one time axis, in seconds since
// Usage.Start.
type Timeline struct {
	T       []float64 `json:"t"`
	GPUUtil []float64 `json:"gpu_util"`      // ratio 0-1
	GPUMem  []float64 `json:"gpu_mem_bytes"` // bytes
	RSS     []float64 `json:"rss_bytes"`     // bytes
	CPU     []float64 `json:"cpu_cores"`     // cores in use
	NetRx   []float64 `json:"net_rx_bytes_per_second,omitempty"`
	NetTx   []float64 `json:"net_tx_bytes_per_second,omitempty"`
}

// XID is one GPU XID error event seen while the run held the GPU.
type XID struct {
	Time time.Time `json:"time"`
	UUID string    `json:"uuid"`
	Code uint64    `json:"code"`
}
