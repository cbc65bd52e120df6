package compile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
)

// Names inside every compiled job. One group and one task per run keep the
// job readable in the Nomad UI and let other packages find the task by name
// (logs, alloc stats) without reading the job first.
const (
	GroupName = "run"
	TaskName  = "train"

	// DefaultGPUDevice is the device a pool's GPUs are requested as when
	// its pool block names none.
	DefaultGPUDevice = "nvidia/gpu"

	// EnvRunID and EnvParamPrefix are the task environment variables
	// carrying the run ID and each param.
	EnvRunID       = "CARAVAN_RUN_ID"
	EnvParamPrefix = "CARAVAN_PARAM_"
)

// metricsPath is where a run writes its metrics: a file in its allocation
// directory, which the node's agent reads (record.MetricsFile).
const metricsPath = "${NOMAD_ALLOC_DIR}/" + record.MetricsFile

// Options are the inputs of compilation that do not come from a run.
type Options struct {
	// ConfigDir is the configuration directory; meta records each
	// experiment's file relative to it.
	ConfigDir string
	// ConfigCommit and ConfigDirty describe the directory's git worktree
	// ("" when it is not in git).
	ConfigCommit string
	ConfigDirty  bool
	// CaravanVersion is the version of the caravan compiling the run, for
	// the record (record.MetaCaravanVersion); "" leaves it out.
	CaravanVersion string
	// Pools maps caravan pool names to their pool blocks (spec.Config.Pools).
	// A pool missing from a nil map compiles to the node pool of the same
	// name; a pool missing from a non-nil map is an error, since spec.Load
	// lists every pool an experiment uses.
	Pools map[string]*spec.Pool
}

// pool returns the run's pool, or an implicit one when opts has no map.
func (o Options) pool(run spec.Run) (*spec.Pool, error) {
	if run.Experiment == nil {
		return nil, fmt.Errorf("compile: run %d has no experiment", run.Index)
	}
	name := run.Experiment.Pool
	if o.Pools == nil {
		return &spec.Pool{Name: name, NodePool: name}, nil
	}
	p, ok := o.Pools[name]
	if !ok || p == nil {
		return nil, fmt.Errorf("compile: experiment %q uses pool %q, which the configuration does not define; declare it with a pool block or fix the name", run.Experiment.Name, name)
	}
	return p, nil
}

// Job compiles one run into the Nomad batch job that runs it. The job is
// what a jobspec with the same content would parse to (no server-side
// defaults filled in), so RenderJSON of it equals `nomad job run -output`.
func Job(run spec.Run, opts Options) (*api.Job, error) {
	pool, err := opts.pool(run)
	if err != nil {
		return nil, err
	}
	e := run.Experiment
	if p := e.Priority; p < 0 || p > 100 {
		return nil, fmt.Errorf("compile: experiment %q has priority %d; Nomad priorities are 1..100", e.Name, p)
	}
	if e.Retries < 0 {
		return nil, fmt.Errorf("compile: experiment %q has retries %d; use 0 or more", e.Name, e.Retries)
	}
	params, err := formatParams(run.Params)
	if err != nil {
		return nil, err
	}
	doc, err := resolvedJSONOf(run, params)
	if err != nil {
		return nil, err
	}
	hash := hashOf(doc)
	id := runID(e.Name, hash)

	task, err := compileTask(run, params, pool, id)
	if err != nil {
		return nil, err
	}
	meta, err := jobMeta(run, params, opts, id, hash)
	if err != nil {
		return nil, err
	}
	tg := &api.TaskGroup{
		Name:  new(GroupName),
		Count: new(1),
		Tasks: []*api.Task{task},
		// A failed run is a result to look at, not something to retry in
		// place; retries go to another node through rescheduling, whose
		// interval and delay Nomad fills from its batch defaults (24h,
		// 5s constant), leaving room for any sane number of attempts.
		RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(e.Retries), Unlimited: new(false)},
	}
	if e.Timeout > 0 {
		// Nomad stops the allocation itself once it has run this long,
		// whether or not anything of caravan's is up. Clients older than
		// MaxRunDurationSince ignore the field, so the run may land only
		// on clients that enforce it.
		tg.MaxRunDuration = new(e.Timeout)
		tg.Constraints = []*api.Constraint{MaxRunDurationConstraint()}
	}
	if e.Resources.Disk > 0 {
		tg.EphemeralDisk = &api.EphemeralDisk{SizeMB: new(int(mebibytes(e.Resources.Disk)))}
	}
	applyCheckpoint(e, tg, task, meta, id)
	applySpotFallback(e, pool, opts.Pools, meta)
	job := &api.Job{
		ID:          new(id),
		Name:        new(id),
		Type:        new("batch"),
		Priority:    new(priorityOf(e)),
		Datacenters: []string{"*"},
		NodePool:    new(nodePool(pool)),
		TaskGroups:  []*api.TaskGroup{tg},
		Meta:        meta,
	}
	if e.Namespace != "" {
		job.Namespace = new(e.Namespace)
	}
	return job, nil
}

// DefaultPriority is Nomad's job priority, used when a run leaves it 0.
const DefaultPriority = 50

// priorityOf treats 0 as unset, so a run built without spec.Load's
// defaults compiles (and hashes) like one with the default priority.
func priorityOf(e *spec.Experiment) int {
	if e.Priority == 0 {
		return DefaultPriority
	}
	return e.Priority
}

func nodePool(p *spec.Pool) string {
	if p.NodePool != "" {
		return p.NodePool
	}
	return p.Name
}

func gpuDevice(p *spec.Pool) string {
	if p.GPU != "" {
		return p.GPU
	}
	return DefaultGPUDevice
}

func driverOf(e *spec.Experiment) string {
	switch {
	case e.Driver != "":
		return e.Driver
	case e.Image != "":
		return "docker"
	}
	return "exec"
}

func compileTask(run spec.Run, params []formattedParam, pool *spec.Pool, id string) (*api.Task, error) {
	e := run.Experiment
	driver := driverOf(e)
	cfg := map[string]any{}
	switch driver {
	case "docker":
		if e.Image == "" {
			return nil, fmt.Errorf("compile: experiment %q uses driver docker without an image; set image", e.Name)
		}
		cfg["image"] = escapeTemplate(e.Image)
		if e.Resources.SHM > 0 {
			cfg["shm_size"] = e.Resources.SHM
		}
	case "exec", "raw_exec":
		if e.Image != "" {
			return nil, fmt.Errorf("compile: experiment %q sets image but driver %q runs no container; drop image or use driver docker", e.Name, driver)
		}
		if run.Command == "" {
			return nil, fmt.Errorf("compile: experiment %q uses driver %s, which needs a command; set command", e.Name, driver)
		}
	default:
		return nil, fmt.Errorf("compile: experiment %q has driver %q; use docker, exec or raw_exec", e.Name, driver)
	}
	if run.Command != "" {
		cfg["command"] = escapeTemplate(run.Command)
	}
	if src := e.Source; src != nil && src.Git != "" {
		cfg["work_dir"] = workDir(src)
	}
	if len(run.Args) > 0 {
		args := make([]string, len(run.Args))
		for i, a := range run.Args {
			args[i] = escapeTemplate(a)
		}
		cfg["args"] = args
	}
	env, err := taskEnv(run, params, id)
	if err != nil {
		return nil, err
	}
	res, err := resources(e, pool)
	if err != nil {
		return nil, err
	}
	task := &api.Task{Name: TaskName, Driver: driver, Config: cfg, Env: env, Resources: res, Artifacts: artifacts(e.Source)}
	for k, v := range env {
		if esc, changed := escapeEnv(v); changed {
			env[k] = esc
			task.Meta = map[string]string{MetaDollar: "$"}
		}
	}
	// caravan's own variable is the one value Nomad must interpolate: it
	// names the file in the allocation's directory.
	env[record.MetricsEnv] = metricsPath
	return task, nil
}

// taskEnv is the user's env plus caravan's variables, which win: a run must
// always be able to find out who it is.
func taskEnv(run spec.Run, params []formattedParam, id string) (map[string]string, error) {
	env := make(map[string]string, len(run.Env)+len(params)+1)
	for k, v := range run.Env {
		env[k] = v
	}
	env[EnvRunID] = id
	seen := make(map[string]string, len(params))
	for _, p := range params {
		k := ParamEnvName(p.name)
		if other, dup := seen[k]; dup {
			return nil, fmt.Errorf("compile: params %q and %q of experiment %q both become env %s; rename one", other, p.name, run.Experiment.Name, k)
		}
		seen[k] = p.name
		env[k] = p.text
	}
	return env, nil
}

func resources(e *spec.Experiment, pool *spec.Pool) (*api.Resources, error) {
	r := e.Resources
	res := &api.Resources{}
	switch {
	case r.CPU > 0 && r.Cores > 0:
		return nil, fmt.Errorf("compile: experiment %q sets both cpu and cores; keep one", e.Name)
	case r.CPU > 0:
		res.CPU = new(r.CPU)
	case r.Cores > 0:
		res.Cores = new(r.Cores)
	}
	if r.Memory > 0 {
		res.MemoryMB = new(int(mebibytes(r.Memory)))
	}
	if r.GPUs < 0 {
		return nil, fmt.Errorf("compile: experiment %q asks for %d GPUs; use 0 or more", e.Name, r.GPUs)
	}
	if r.GPUs > 0 {
		dev := &api.RequestedDevice{Name: gpuDevice(pool), Count: new(uint64(r.GPUs))}
		if r.GPUModel != "" {
			// Nomad's nvidia plugin reports full product names ("NVIDIA
			// H100 80GB HBM3"), so the model matches as a literal
			// substring, not by equality.
			dev.Constraints = append(dev.Constraints, &api.Constraint{
				LTarget: "${device.model}", Operand: "regexp", RTarget: regexp.QuoteMeta(r.GPUModel),
			})
		}
		if r.GPUMemory > 0 {
			dev.Constraints = append(dev.Constraints, &api.Constraint{
				LTarget: "${device.attr.memory}", Operand: ">=", RTarget: DeviceSize(r.GPUMemory),
			})
		}
		res.Devices = []*api.RequestedDevice{dev}
	}
	return res, nil
}

const mib = 1 << 20

// mebibytes rounds up: asking for a little more never makes a run fail.
func mebibytes(b int64) int64 { return (b + mib - 1) / mib }

// DeviceSize writes bytes in the unit form Nomad compares device attributes
// with ("40 GiB"): the largest unit that divides the size exactly.
func DeviceSize(b int64) string {
	units := []struct {
		name string
		size int64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"TB", 1e12}, {"GB", 1e9},
		{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3},
	}
	for _, u := range units {
		if b >= u.size && b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(b, 10) + " B"
}

// ParamEnvName is the task env variable of a param: CARAVAN_PARAM_ and the
// name upper-cased, every character outside [A-Z0-9_] replaced by "_".
func ParamEnvName(name string) string {
	return EnvParamPrefix + sanitize(strings.ToUpper(name))
}

// MetaParamKey is the job meta key of a param: caravan_param_ and the name
// with every character outside [A-Za-z0-9_] replaced by "_", so that it is
// also a valid NOMAD_META_* env name.
func MetaParamKey(name string) string {
	return record.MetaParamPrefix + sanitize(name)
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
