package record

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// Variable paths. A run's record lives at Ref.Path and its usage summary
// at Ref.UsagePath: under ProjectsPrefix+project+"/runs/" for a run of a
// project, under RunsPrefix for a run submitted before projects existed
// (it belongs to no project). A project's runs are one prefix, so that
// listing them is a paged listing of paths, and an operator can give a
// team's token write access to its own project's records only.
//
// Records are never deleted by caravan's normal operation: they are a
// run's history and outlive the job, which Nomad's garbage collector
// eventually removes.
const (
	RunsPrefix     = "caravan/runs/"
	ProjectsPrefix = "caravan/projects/"
	UsageSuffix    = "/usage"
)

// Ref says where a run's record is: its Nomad namespace, its project (""
// for none) and its run ID.
type Ref struct {
	Namespace string
	Project   string
	RunID     string
	// Ended is set by listings when the run's outcome exists beside its
	// record (OutcomePath): the run ended and the controller recorded how.
	Ended bool
}

// Path is the Variable path of the run's record.
func (r Ref) Path() string { return ProjectPrefix(r.Project) + r.RunID }

// UsagePath is the Variable path of the run's usage summary.
func (r Ref) UsagePath() string { return r.Path() + UsageSuffix }

// ProjectPrefix is the path prefix of every record of project ("" for the
// runs of no project).
func ProjectPrefix(project string) string {
	if project == "" {
		return RunsPrefix
	}
	return ProjectsPrefix + project + "/runs/"
}

// ParsePath reads a record's project and run ID from its Variable path.
// Usage summaries and other paths give ok=false.
func ParsePath(path string) (project, runID string, ok bool) {
	if rest, found := strings.CutPrefix(path, RunsPrefix); found {
		return "", rest, rest != "" && !strings.Contains(rest, "/")
	}
	rest, found := strings.CutPrefix(path, ProjectsPrefix)
	if !found {
		return "", "", false
	}
	project, runID, found = strings.Cut(rest, "/runs/")
	if !found || project == "" || strings.Contains(project, "/") || runID == "" || strings.Contains(runID, "/") {
		return "", "", false
	}
	return project, runID, true
}

// ProjectNameRE is what a project name may be: it is a Variable path
// segment and a job meta value, and people type it.
var ProjectNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Run is the record caravan writes for each run at submit time. It holds
// enough to reproduce the run without the files it came from.
type Run struct {
	RunID      string         `json:"run_id"`
	Project    string         `json:"project,omitempty"` // "" for a run of no project
	Experiment string         `json:"experiment"`
	Pool       string         `json:"pool"`
	NodePool   string         `json:"node_pool"`
	Namespace  string         `json:"namespace"`
	GPUs       int            `json:"gpus"`
	Params     map[string]any `json:"params"`
	SpecHash   string         `json:"spec_hash"`
	// Spec is the resolved run spec, as compile hashed it; only records
	// written at apply time by older caravans have one: the job holds the
	// same declaration.
	Spec        json.RawMessage  `json:"spec,omitempty"`
	Job         json.RawMessage  `json:"job"` // the compiled job, api.Job JSON
	Config      ConfigProvenance `json:"config"`
	SubmittedBy string           `json:"submitted_by,omitempty"` // ACL token name/accessor when known
	SubmittedAt time.Time        `json:"submitted_at"`
	RerunOf     string           `json:"rerun_of,omitempty"`
	// ClonedFrom is the run a `rerun -param` clone was made from, and
	// Changed the params it changed.
	ClonedFrom string        `json:"cloned_from,omitempty"`
	Changed    []ParamChange `json:"changed,omitempty"`
	// PricePerHour is the pool's node price when known, for cost reports.
	PricePerHour float64 `json:"price_per_hour,omitempty"`
	GPUsPerNode  int     `json:"gpus_per_node,omitempty"`

	// What ran: the code, the image and the software that submitted it.
	// Source is nil for a run without a source block; Image is the image
	// as declared (a tag, say) and ImageDigest what it was pinned to.
	Source         *Source `json:"source,omitempty"`
	Image          string  `json:"image,omitempty"`
	ImageDigest    string  `json:"image_digest,omitempty"`
	ImagePinning   string  `json:"image_pinning,omitempty"`
	CaravanVersion string  `json:"caravan_version,omitempty"`
	NomadVersion   string  `json:"nomad_version,omitempty"`
	// WaitFor are the runs this run waited for (depends_on).
	WaitFor []string          `json:"wait_for,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// Source is the code a run fetched: the repository, the exact commit and
// the sub-directory the command ran in.
type Source struct {
	Git    string `json:"git"`
	Commit string `json:"commit"`
	Path   string `json:"path,omitempty"`
}

// Ref is where the record is, in namespace ns (the run's own namespace
// when ns is "").
func (r *Run) Ref(ns string) Ref {
	if ns == "" {
		ns = r.Namespace
	}
	return Ref{Namespace: ns, Project: r.Project, RunID: r.RunID}
}

// ConfigProvenance says which configuration produced a run.
type ConfigProvenance struct {
	Dir    string `json:"dir"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty"`
	// Snapshot is the hash of the configuration snapshot (SnapshotRef)
	// the run was compiled from, when one was kept.
	Snapshot string `json:"snapshot,omitempty"`
}

// Usage is the agent's compact summary of a run's resource use, written to
// Prefix+runID+UsageSuffix every minute while the run lives and once
// when it ends.
//
// A figure the agent had no source for is absent, never 0: Sources names
// where each figure came from, and a timeline series is left out, or holds
// NaN (JSON null) at the samples it missed. Summaries written before
// Sources existed have none; their figures are taken as they are.
type Usage struct {
	RunID       string    `json:"run_id"`
	Project     string    `json:"project,omitempty"`
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
	// MemPeak is the peak memory charged to the run's cgroups (RSS, page
	// cache and kernel memory): what the kernel compares with MemLimit.
	MemPeak int64 `json:"mem_peak_bytes,omitempty"`
	// OOMKills counts the processes the kernel's OOM killer killed in the
	// run's cgroups, whatever Nomad's task events say.
	OOMKills int   `json:"oom_kills,omitempty"`
	XIDs     []XID `json:"xids,omitempty"`
	// Sources maps each figure (the Figure* constants) to where its latest
	// value came from (the Source* constants). A figure that is not here
	// had no source: report says "no data". nil in summaries written before
	// it existed.
	Sources map[string]string `json:"sources"`
	// Timeline holds down-sampled series, at most MaxTimelinePoints each.
	Timeline Timeline `json:"timeline"`
	// Metrics are the series the run's own code wrote to $CARAVAN_METRICS,
	// by name, at most MaxMetrics.
	Metrics []Metric `json:"metrics,omitempty"`
}

// MaxTimelinePoints bounds each series of a Usage timeline.
const MaxTimelinePoints = 512

// Timeline is a set of series sharing one time axis, in seconds since
// Usage.Start. A series without any sample is left out; NaN (null in JSON)
// marks a sample its source missed.
type Timeline struct {
	T       []float64 `json:"t"`
	GPUUtil Series    `json:"gpu_util,omitempty"`      // ratio 0-1
	GPUMem  Series    `json:"gpu_mem_bytes,omitempty"` // bytes
	RSS     Series    `json:"rss_bytes,omitempty"`     // bytes
	CPU     Series    `json:"cpu_cores,omitempty"`     // cores in use
	// NetRx and NetTx are the run's own network traffic, known only when
	// it has a network namespace of its own.
	NetRx Series `json:"net_rx_bytes_per_second,omitempty"`
	NetTx Series `json:"net_tx_bytes_per_second,omitempty"`
}

// XID is one GPU XID error event seen while the run held the GPU.
type XID struct {
	Time time.Time `json:"time"`
	UUID string    `json:"uuid"`
	Code uint64    `json:"code"`
}
