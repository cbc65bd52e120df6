package compile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/zclconf/go-cty/cty"
)

// resolvedVersion is bumped whenever the shape of the resolved document
// changes, so that such a change gives every run a new ID on purpose
// rather than by accident.
const resolvedVersion = 1

// resolved is the document whose sha256 is a run's identity. It holds
// exactly what a run declares about its execution, in a fixed field order.
//
// Left out on purpose, because changing them must not re-run anything:
// description and tags (cosmetic), stall_timeout and on_stall (how the
// controller watches the run, not what it runs), the file and line of the block and the
// sweep index (moving a block or inserting a grid value must keep the other
// runs' IDs), the configuration's own git commit and dirty flag (every
// commit would otherwise re-run every experiment), and what a pool block
// maps the pool to (node pool, GPU device name, autoscaling), which is
// infrastructure, not the experiment: the caravan pool name is included.
//
// The image is the image as declared: a tag, not the digest apply pins it
// to, so that the same tag resolved again (another apply, a moved tag)
// names the same run, and offline validate and render give the IDs apply
// uses. The record keeps the digest that ran. image_pinning is left out too:
// it says how the declared image is resolved, not what the run declares.
//
// The project is included, so the same experiment declared by two projects
// gives two runs that never collide; it is omitted when empty, so runs of
// a directory without a project keep the IDs they had before projects.
type resolved struct {
	Version    int               `json:"caravan_spec"`
	Project    string            `json:"project,omitempty"`
	Experiment string            `json:"experiment"`
	Pool       string            `json:"pool"`
	Priority   int               `json:"priority"`
	Namespace  string            `json:"namespace"`
	Source     *resolvedSource   `json:"source"`
	Driver     string            `json:"driver"`
	Image      string            `json:"image"`
	Command    string            `json:"command"`
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env"`
	Params     []resolvedParam   `json:"params"`
	Resources  resolvedResources `json:"resources"`
	Timeout    string            `json:"timeout"`
	Retries    int               `json:"retries"`
	DependsOn  []string          `json:"depends_on"`
	Rerun      int               `json:"rerun"`
	// Checkpoint is omitted when unset, so runs that declare none keep
	// the IDs they had before checkpoints existed.
	Checkpoint *resolvedCheckpoint `json:"checkpoint,omitempty"`
}

type resolvedSource struct {
	Git    string `json:"git"`
	Commit string `json:"commit"`
	Path   string `json:"path"`
}

// resolvedParam keeps the value's type: the string "1" and the number 1
// render the same in env but are different declarations.
type resolvedParam struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type resolvedResources struct {
	GPUs      int    `json:"gpus"`
	GPUModel  string `json:"gpu_model"`
	GPUMemory int64  `json:"gpu_memory_bytes"`
	CPU       int    `json:"cpu_mhz"`
	Cores     int    `json:"cores"`
	Memory    int64  `json:"memory_bytes"`
	SHM       int64  `json:"shm_bytes"`
	Disk      int64  `json:"disk_bytes"`
}

// ResolvedSpec returns the canonical JSON of everything in run that affects
// its execution: the document whose sha256 is SpecHash and whose first
// eight hex digits make the RunID. Equal declarations give equal bytes.
//
// opts is accepted so callers can pass what they pass to Job, but nothing
// from it enters the document: see the resolved type for why the
// configuration commit and pool mapping are excluded. It is validated,
// though, so a run whose pool opts does not know is an error here as in Job.
func ResolvedSpec(run spec.Run, opts Options) ([]byte, error) {
	if _, err := opts.pool(run); err != nil {
		return nil, err
	}
	return resolvedJSON(run)
}

func resolvedJSON(run spec.Run) ([]byte, error) {
	params, err := formatParams(run.Params)
	if err != nil {
		return nil, err
	}
	return resolvedJSONOf(run, params)
}

func resolvedJSONOf(run spec.Run, params []formattedParam) ([]byte, error) {
	e := run.Experiment
	if e == nil {
		return nil, fmt.Errorf("compile: run %d has no experiment", run.Index)
	}
	d := resolved{
		Version:    resolvedVersion,
		Project:    e.Project,
		Experiment: e.Name,
		Pool:       e.Pool,
		Priority:   priorityOf(e),
		Namespace:  e.Namespace,
		Driver:     driverOf(e),
		Image:      e.Image,
		Command:    run.Command,
		Args:       nonNil(run.Args),
		Env:        run.Env,
		Params:     make([]resolvedParam, 0, len(run.Params)),
		Resources: resolvedResources{
			GPUs: e.Resources.GPUs, GPUModel: e.Resources.GPUModel, GPUMemory: e.Resources.GPUMemory,
			CPU: e.Resources.CPU, Cores: e.Resources.Cores, Memory: e.Resources.Memory,
			SHM: e.Resources.SHM, Disk: e.Resources.Disk,
		},
		Retries:    e.Retries,
		DependsOn:  nonNil(e.DependsOn),
		Rerun:      e.Rerun,
		Checkpoint: resolvedCheckpointOf(e.Checkpoint),
	}
	if d.Env == nil {
		d.Env = map[string]string{}
	}
	if e.Timeout != 0 {
		d.Timeout = e.Timeout.String()
	}
	if e.Source != nil {
		d.Source = &resolvedSource{Git: e.Source.Git, Commit: e.Source.Commit, Path: e.Source.Path}
	}
	for _, p := range params {
		d.Params = append(d.Params, resolvedParam{Name: p.name, Type: p.typ, Value: json.RawMessage(p.json)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("compile: encoding the resolved spec of %s: %w", e.Name, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// SpecHash is the full sha256 hex digest of the run's resolved spec. It
// panics only if the run has no experiment, which spec.Load never yields.
func SpecHash(run spec.Run) string {
	h, err := specHash(run)
	if err != nil {
		panic(err)
	}
	return h
}

func specHash(run spec.Run) (string, error) {
	b, err := resolvedJSON(run)
	if err != nil {
		return "", err
	}
	return hashOf(b), nil
}

func hashOf(doc []byte) string {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}

// RunID is "<experiment>-<first 8 hex digits of SpecHash>": the Nomad job ID
// of the run. The same declaration always gives the same ID. In the rare
// case that another run of the configuration has the same eight digits,
// Disambiguate may lengthen one of them: take IDs of a whole configuration
// from its compiled jobs.
func RunID(run spec.Run) string {
	return runID(run.Experiment.Name, SpecHash(run))
}

func runID(experiment, hash string) string { return experiment + "-" + hash[:8] }

// formattedParam is a param's value in every textual form the compiler
// writes, computed once per run: number formatting is the costly part.
type formattedParam struct {
	name string
	typ  string // "string", "number" or "bool"
	text string // as interpolated into a string: env and one-key meta
	json string // as a JSON value: caravan_params and the resolved spec
}

// formatParams formats params sorted by name.
func formatParams(params []spec.Param) ([]formattedParam, error) {
	out := make([]formattedParam, len(params))
	for i, p := range params {
		v := p.Value
		if v.IsNull() || !v.IsKnown() || v.IsMarked() || !v.Type().IsPrimitiveType() {
			return nil, fmt.Errorf("compile: param %q must be a known string, number or bool, got %s", p.Name, v.Type().FriendlyName())
		}
		f := formattedParam{name: p.Name, typ: v.Type().FriendlyName(), text: ParamString(v)}
		if v.Type() == cty.String {
			b, err := json.Marshal(f.text)
			if err != nil {
				return nil, fmt.Errorf("compile: param %q: %w", p.Name, err)
			}
			f.json = string(b)
		} else {
			f.json = f.text // numbers in 'f' form and true/false are JSON already
		}
		out[i] = f
	}
	if !slices.IsSortedFunc(out, func(a, b formattedParam) int { return strings.Compare(a.name, b.name) }) {
		slices.SortFunc(out, func(a, b formattedParam) int { return strings.Compare(a.name, b.name) })
	}
	return out, nil
}

// paramsJSON is the caravan_params meta value: a JSON object of all params
// with their JSON types, keys sorted.
func paramsJSON(params []formattedParam) string {
	var buf strings.Builder
	buf.WriteByte('{')
	for i, p := range params {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(p.name)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.WriteString(p.json)
	}
	buf.WriteByte('}')
	return buf.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParamString is a param value as it appears in env and one-key meta: the
// same text HCL would interpolate into a string ("0.001", "256", "true").
func ParamString(v cty.Value) string {
	if v.IsNull() || !v.IsKnown() {
		return ""
	}
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case cty.Number:
		return numberString(v.AsBigFloat())
	}
	return ""
}

// numberString is bf.Text('f', -1), the form HCL converts numbers to
// strings with, computed through strconv when that gives the same digits:
// big.Float's shortest-decimal search is slow at cty's 512-bit precision.
func numberString(bf *big.Float) string {
	if bf.IsInt() {
		if i, acc := bf.Int64(); acc == big.Exact {
			return strconv.FormatInt(i, 10)
		}
	}
	if f, acc := bf.Float64(); !math.IsInf(f, 0) && f != 0 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if acc == big.Exact && bf.Prec() <= 53 {
			return s
		}
		// s is the shortest decimal for the float64 nearest bf; it is
		// the shortest for bf too when it reads back as bf exactly.
		back, _, err := big.ParseFloat(s, 10, bf.Prec(), bf.Mode())
		if err == nil && back.Cmp(bf) == 0 {
			return s
		}
	}
	return bf.Text('f', -1)
}
