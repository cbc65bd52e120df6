package spec

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is one loaded configuration directory.
type Config struct {
	// Dir is the directory the files were read from, as given to Load.
	Dir string
	// Project is what the caravan block declares ("" when none): the
	// owner of the directory's runs.
	Project      string
	ProjectRange hcl.Range
	// Files are the parsed files by name, kept so that diagnostics can
	// print source snippets.
	Files map[string]*hcl.File
	// SourceFiles names the configuration files among Files (not the
	// variable files), in the order they were read.
	SourceFiles []string
	// Variables are the declared variables' final values, whatever set
	// them (default, environment, -var-file, -var): with SourceFiles, what
	// reproduces the configuration (LoadOptions.VarValues).
	Variables map[string]cty.Value
	// Experiments in file order, then declaration order.
	Experiments []*Experiment
	// Pools by caravan pool name: the catalogue's (LoadOptions.Catalog)
	// and the directory's own pool blocks. A pool used by an experiment
	// but not declared gets an implicit entry whose NodePool is its own
	// name.
	Pools map[string]*Pool
	// Policy is the operator policy the experiments were checked against
	// (the catalogue's, else DefaultPolicy); in a pools directory, its own.
	Policy *Policy
	// Runs are all sweep points of all experiments, grouped by experiment
	// in Experiments order, each group in sweep order.
	Runs []Run
}

// Experiment is one decoded experiment block with defaults applied and
// expressions that do not depend on params already evaluated.
type Experiment struct {
	Name        string
	Project     string // the directory's project (caravan block); "" when none
	Description string
	Pool        string // caravan pool name; see Config.Pools for its Nomad node pool
	Priority    int    // Nomad job priority, 1..100
	Namespace   string // Nomad namespace; "" means the client's default
	Tags        []string
	Source      *Source // nil when the experiment declares no source block
	Image       string  // "" when the task does not run a container
	// ImagePinning says how apply turns Image into what runs (one of the
	// record.Pinning* modes; default record.PinningPin).
	ImagePinning string
	Driver       string // "docker", "exec" or "raw_exec"
	Resources    Resources
	Timeout      time.Duration // 0 when unset
	// StallTimeout is how long a run may print nothing, write no metric
	// and use ~0 CPU and GPU before the controller marks it stalled; 0
	// when unset. OnStall is what it then does (record.OnStallWarn or
	// record.OnStallStop); "" without a StallTimeout.
	StallTimeout time.Duration
	OnStall      string
	Retries      int // Nomad reschedule attempts
	DependsOn    []string
	Rerun        int // bumps run identity on purpose (issue: rerun = N)
	// Checkpoint is nil for a run that cannot be moved once started.
	Checkpoint *Checkpoint
	// Spot is SpotOK when runs without a checkpoint may use spot pools.
	Spot string

	// PoolCandidates is the pools list Pool was chosen from (the smallest
	// pool whose nodes hold Resources, see SmallestFit), in the order
	// written; nil when the pool was named with pool or left to the
	// default. It is for display: a run's identity depends on Pool alone.
	PoolCandidates []string

	// ParamNames are the names of the parameters every run of this
	// experiment carries (params, sweep.grid and sweep.random), sorted.
	ParamNames []string
	// RunCount is the number of runs the experiment's sweep yields.
	RunCount int

	// DeclRange is the range of the experiment block's header, used for
	// the source file and line recorded in job meta.
	DeclRange hcl.Range

	poolRng    hcl.Range // where pool was set, for diagnostics about the pool
	driverRng  hcl.Range // where driver was set (or the image that implied docker)
	dependsRng hcl.Range
}

// Source is the code under test.
type Source struct {
	Git    string
	Commit string // 7-40 hex digits
	Path   string
}

// Resources a run asks for. Sizes are bytes; zero means unset.
type Resources struct {
	GPUs      int
	GPUModel  string
	GPUMemory int64 // bytes; a constraint on device.attr.memory
	CPU       int   // MHz; mutually exclusive with Cores
	Cores     int
	Memory    int64 // bytes
	SHM       int64 // bytes (docker shm_size)
	Disk      int64 // bytes (ephemeral disk)
}

// Run is one sweep point of an experiment: everything needed to compile
// exactly one Nomad job.
type Run struct {
	Experiment *Experiment
	// Index is the position of the point in the experiment's sweep.
	Index int
	// Params are this run's parameter values, sorted by name.
	Params []Param
	// Command, Args and Env are evaluated with this run's params. Args and
	// Env that do not depend on a swept parameter are shared by all runs of
	// the experiment: treat them as read-only.
	Command string
	Args    []string
	Env     map[string]string
}

// Param is one named parameter value of a run.
type Param struct {
	Name  string
	Value cty.Value // a known, non-null primitive: string, number or bool
}

// Pool maps a caravan pool to a Nomad node pool and, for the autoscaler,
// describes its machines and the Terraform module that makes them.
type Pool struct {
	Name          string
	NodePool      string // defaults to Name
	Declared      bool   // false for pools implied by an experiment's pool attribute
	GPU           string // device name that counts as a GPU; default "nvidia/gpu"
	GPUsPerNode   int
	CPUPerNode    int   // MHz
	MemoryPerNode int64 // bytes
	MinNodes      int
	MaxNodes      int
	IdleTimeout   time.Duration // default 10m
	BootTimeout   time.Duration // default 15m
	// MinIdle is the shortest time an empty node is kept; between MinIdle
	// and IdleTimeout the autoscaler removes it only when its warm buffer
	// does not need it. MinIdle == IdleTimeout gives the classic rule.
	// Zero means the autoscaler policy's default.
	MinIdle      time.Duration // default 1m
	PricePerHour float64       // per node
	// Spot pools run on spot or preemptible machines: only experiments
	// that checkpoint, or say spot = "ok", land there.
	Spot bool
	// SpotFallback names the on-demand pool a spot pool's checkpointing
	// runs move to once they have been preempted SpotMaxPreemptions
	// times ("": they stay on spot machines, however often preempted).
	SpotFallback       string
	SpotMaxPreemptions int // 0: DefaultSpotMaxPreemptions
	spotFallbackRng    hcl.Range
	Terraform          *PoolTerraform
	DeclRange          hcl.Range
}

// PoolTerraform is a pool's terraform block.
type PoolTerraform struct {
	// Module is the module directory, resolved against the configuration
	// directory when relative.
	Module string
	// Vars are extra input variables passed to the module beside nodes.
	Vars map[string]cty.Value
	// Bin is the terraform binary; "" means find it on PATH.
	Bin string
}
