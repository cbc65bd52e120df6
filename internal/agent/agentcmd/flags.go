package agentcmd

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Synopsis is the agent's one-line description, for both binaries' usage.
const Synopsis = "Export this node's GPU and run telemetry to Prometheus, and run usage to Nomad"

// Flags are the agent's settings as its command line gives them.
type Flags struct {
	Listen     string
	Interval   time.Duration
	Flush      time.Duration
	NomadAddr  string
	Token      string
	NoNomad    bool
	ProcRoot   string
	CgroupRoot string
	AllocDir   string
	Node       string
	NodeID     string
	Pool       string
	GPUTimeout time.Duration
	// Preemption notices (spot machines): the cloud whose metadata to
	// poll ("" for none), where, and how often.
	PreemptCloud string
	MetadataURL  string
	PreemptPoll  time.Duration
}

// Define defines the agent's flags on fs and returns where they land.
// getenv supplies the defaults taken from the environment (CARAVAN_NODE_ID,
// CARAVAN_POOL).
func Define(fs *flag.FlagSet, getenv func(string) string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Listen, "listen", "127.0.0.1:9464", "address to serve /metrics on; listening on all interfaces (e.g. 0.0.0.0:9464) is opt-in")
	fs.DurationVar(&f.Interval, "interval", 5*time.Second, "how often to sample runs for their usage summaries")
	fs.DurationVar(&f.Flush, "flush", time.Minute, "how often to write each run's usage summary to Nomad")
	fs.StringVar(&f.NomadAddr, "nomad-addr", "", "the local Nomad client agent's address (default: NOMAD_ADDR, else http://127.0.0.1:4646)")
	fs.StringVar(&f.Token, "token", "", "Nomad ACL token (default: NOMAD_TOKEN)")
	fs.BoolVar(&f.NoNomad, "no-nomad", false, "do not read Nomad: GPUs only, no attribution to runs, no usage summaries")
	fs.StringVar(&f.ProcRoot, "proc-root", "/proc", "the host's /proc (e.g. /host/proc when running in a container)")
	fs.StringVar(&f.CgroupRoot, "cgroup-root", "/sys/fs/cgroup", "where the host's cgroups are mounted, to read each run's memory, CPU and OOM kills (e.g. /host/sys/fs/cgroup in a container)")
	fs.StringVar(&f.AllocDir, "alloc-dir", "", "the Nomad client's allocation directory on this host, where runs write $CARAVAN_METRICS (default: what the local Nomad agent says)")
	fs.StringVar(&f.Node, "node", "", "node name for the node label (default: the local Nomad agent's node name, else the host name)")
	fs.StringVar(&f.NodeID, "node-id", getenv("CARAVAN_NODE_ID"), "Nomad node ID, to list the node's allocations (default: CARAVAN_NODE_ID, else the local Nomad agent's node; without one, runs are found only through their GPU processes)")
	fs.StringVar(&f.Pool, "pool", getenv("CARAVAN_POOL"), "the node's Nomad node pool, for the pool label (default: CARAVAN_POOL, else the local Nomad agent's node pool). It equals the caravan pool name only when that pool's node_pool is its own name")
	fs.DurationVar(&f.GPUTimeout, "gpu-timeout", time.Second, "deadline of each NVML call (a device read, the XID event poll); a device slower than this is skipped and counted as failed")
	fs.StringVar(&f.PreemptCloud, "preemption-notice", "", "on a spot or preemptible machine, the `CLOUD` (aws or gcp) whose metadata endpoint to poll for a preemption notice; on one, the agent drains its node with the notice's deadline and moves the runs that checkpoint (default: off)")
	fs.StringVar(&f.MetadataURL, "metadata-url", "", "the cloud's metadata endpoint (default: http://169.254.169.254 on aws, http://metadata.google.internal on gcp)")
	fs.DurationVar(&f.PreemptPoll, "preemption-poll", 5*time.Second, "how often to read the preemption notice")
	return f
}

// UsageError is an error in the agent's flags: the fix is on the command
// line.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return &UsageError{Err: fmt.Errorf(format, a...)} }

// IsUsage reports whether err is an error in the agent's flags.
func IsUsage(err error) bool {
	_, ok := errors.AsType[*UsageError](err)
	return ok
}
