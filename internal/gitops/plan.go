package gitops

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// PlanVersion is the format version of a saved plan; apply refuses others.
// Version 2 added the digests that bind a plan to what plan computed.
const PlanVersion = 2

// DesiredRun is one declared run, compiled: what apply registers.
type DesiredRun struct {
	ID         string
	Experiment string
	// Namespace is the run's Nomad namespace; "" means the client's.
	Namespace string
	SpecHash  string
	Summary   Summary
	// Job is the compiled job, everything the run's record will hold:
	// the controller writes the record from the job once Nomad has it.
	Job *api.Job
}

// Summary is what a person needs to recognise a run in a plan.
type Summary struct {
	Pool  string `json:"pool"`
	GPUs  int    `json:"gpus"`
	Image string `json:"image,omitempty"` // as declared
	// Digest is what Image was pinned to ("sha256:…"); "" for a tag
	// submitted as it is (image_pinning = "allow-mutable").
	Digest string         `json:"image_digest,omitempty"`
	Driver string         `json:"driver,omitempty"`
	Params []record.Param `json:"params,omitempty"`
}

// ActualRun is a run caravan owns in Nomad: a caravan job, a run record, or
// both.
type ActualRun struct {
	ID         string
	Project    string // "" for a run of no project
	Experiment string
	Namespace  string
	// Status is the Nomad job status (pending, running, dead); "" when
	// only the record remains (the job was garbage-collected).
	Status    string
	Stopped   bool // the job was stopped (Stop=true)
	HasJob    bool
	HasRecord bool
	// HasGate: the run waits for the runs it depends on (no job yet);
	// Wait says how far they are.
	HasGate bool
	Wait    string
	// AdHoc runs were submitted outside the configuration directory
	// (caravan run, caravan rerun); a directory's plan never lists them as
	// no longer declared, so -prune never stops them.
	AdHoc bool
}

// Active reports whether the run still holds or waits for resources:
// only such runs are stopped by apply -prune.
func (a ActualRun) Active() bool {
	if !a.HasJob {
		return a.HasGate && !a.HasRecord
	}
	return !a.Stopped && (a.Status == "pending" || a.Status == "running")
}

// Options narrow a plan.
type Options struct {
	// Project is the directory's project: only its runs can be no longer
	// declared, so a plan never lists (and -prune never stops) a run of
	// another project or of no project.
	Project string
	// Experiments, when non-nil, limits the runs considered no longer
	// declared to these experiments (caravan run plans one experiment and
	// must not report every other run in the cluster).
	Experiments map[string]bool
}

// RunPlan is the result of Plan: per experiment, what apply would do.
// It is plain data, serialisable to JSON as the saved plan file.
type RunPlan struct {
	Version int    `json:"version"`
	Project string `json:"project"`
	Basis   Basis  `json:"basis"`
	// Experiments are sorted by name; an experiment appears when it has
	// any run in any list.
	Experiments []ExperimentPlan `json:"experiments"`
	// Snapshot is the configuration the plan's runs were compiled from,
	// which apply keeps beside their records so that `caravan rerun
	// -param` can expand a run at other params; nil when none was taken.
	Snapshot *record.ConfigSnapshot `json:"config_snapshot,omitempty"`
	// Digest covers everything above in a saved plan (WritePlan), with
	// the algorithm DigestAlg; empty in a plan that was not saved.
	Digest    string `json:"digest,omitempty"`
	DigestAlg string `json:"digest_alg,omitempty"`
}

// Basis records what a plan was computed against, so that applying a
// saved plan can refuse when the cluster or the declaration moved on.
//
// The actual side is a hash of the set of run IDs in scope, not Nomad's
// raw job index: that index moves with every status change of any job in
// the cluster, which would make every saved plan stale within seconds on a
// busy cluster, while only the set of runs decides what a plan contains.
// Whether a no-longer-declared run is still active is checked again at
// apply time.
type Basis struct {
	DesiredHash string `json:"desired_hash"`
	ActualHash  string `json:"actual_hash"`
	Desired     int    `json:"desired"`
	Actual      int    `json:"actual"`
	// Project is the project the plan was computed for.
	Project string `json:"project"`
	// Scope lists the experiments the plan was limited to (Options); empty
	// means every experiment.
	Scope []string `json:"scope,omitempty"`
}

// ExperimentPlan is one experiment's part of a plan.
type ExperimentPlan struct {
	Name string `json:"name"`
	// Create are declared runs absent from Nomad, in declaration order.
	Create []Change `json:"create"`
	// Unchanged are declared runs present in Nomad, whatever their state.
	Unchanged []RunRef `json:"unchanged"`
	// Removed are runs no longer declared, sorted by ID. Only the active
	// ones are stopped, and only by apply -prune.
	Removed []RunRef `json:"removed"`
}

// Change is a run apply acts on.
type Change struct {
	ID        string  `json:"id"`
	Namespace string  `json:"namespace,omitempty"`
	SpecHash  string  `json:"spec_hash"`
	Summary   Summary `json:"summary"`
	// Job travels in a saved plan so that applying it needs neither the
	// files nor the compiler; -json output leaves it out.
	Job *api.Job `json:"job,omitempty"`
	// Digest is the SHA-256 of the change without it, in a saved plan:
	// apply -plan names the run whose job was edited.
	Digest string `json:"digest,omitempty"`
}

// RunRef names a run that is already in Nomad.
type RunRef struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace,omitempty"`
	// Status is the Nomad job status, "" for a record-only run.
	Status string `json:"status,omitempty"`
	Active bool   `json:"active"`
	// Wait says what a run that has no job yet waits for:
	// "waiting for preprocess (2 of 3 runs done)"; Gated that it has a
	// gate and no job, so stopping it removes the gate.
	Wait  string `json:"wait,omitempty"`
	Gated bool   `json:"gated,omitempty"`
}

// Counts sums a plan's lists.
type Counts struct {
	Create        int `json:"create"`
	Unchanged     int `json:"unchanged"`
	Removed       int `json:"removed"`
	RemovedActive int `json:"removed_active"`
}

// Counts sums the plan's lists over all experiments.
func (p *RunPlan) Counts() Counts {
	var c Counts
	for _, e := range p.Experiments {
		c.Create += len(e.Create)
		c.Unchanged += len(e.Unchanged)
		c.Removed += len(e.Removed)
		for _, r := range e.Removed {
			if r.Active {
				c.RemovedActive++
			}
		}
	}
	return c
}

// HasChanges reports whether applying the plan (with -prune) would change
// anything in Nomad: runs to create, or active runs no longer declared.
// Finished runs that are no longer declared are history and change nothing.
func (c Counts) HasChanges() bool {
	return c.Create+c.RemovedActive > 0
}

// Plan diffs desired with actual runs. It is pure and runs in time linear in
// the inputs (one map of actual runs by ID). Desired runs with the same ID
// (identical sweep points) count once.
func Plan(desired []DesiredRun, actual []ActualRun, opts Options) *RunPlan {
	byID := make(map[string]*ActualRun, len(actual))
	for i := range actual {
		a := &actual[i]
		if prev, ok := byID[a.ID]; ok {
			// The same ID seen twice (job and record listed separately,
			// or two namespaces): merge what is known.
			merged := mergeActual(*prev, *a)
			byID[a.ID] = &merged
			continue
		}
		byID[a.ID] = a
	}
	exps := map[string]*ExperimentPlan{}
	exp := func(name string) *ExperimentPlan {
		e, ok := exps[name]
		if !ok {
			e = &ExperimentPlan{Name: name, Create: []Change{}, Unchanged: []RunRef{}, Removed: []RunRef{}}
			exps[name] = e
		}
		return e
	}
	declared := make(map[string]bool, len(desired))
	for _, d := range desired {
		if declared[d.ID] {
			continue
		}
		declared[d.ID] = true
		e := exp(d.Experiment)
		a, ok := byID[d.ID]
		if !ok {
			e.Create = append(e.Create, changeOf(d))
		} else {
			e.Unchanged = append(e.Unchanged, refOf(*a))
		}
	}
	for id, a := range byID {
		if declared[id] || !opts.inScope(*a) {
			continue
		}
		e := exp(a.Experiment)
		e.Removed = append(e.Removed, refOf(*a))
	}
	p := &RunPlan{Version: PlanVersion, Project: opts.Project, Experiments: make([]ExperimentPlan, 0, len(exps))}
	for _, e := range exps {
		slices.SortFunc(e.Removed, func(x, y RunRef) int { return cmp.Compare(x.ID, y.ID) })
		p.Experiments = append(p.Experiments, *e)
	}
	slices.SortFunc(p.Experiments, func(x, y ExperimentPlan) int { return cmp.Compare(x.Name, y.Name) })
	p.Basis = Basis{
		DesiredHash: DesiredHash(desired),
		ActualHash:  ActualHash(actual, declared, opts),
		Desired:     len(declared),
		Actual:      len(byID),
		Scope:       scopeList(opts),
		Project:     opts.Project,
	}
	return p
}

// inScope reports whether an undeclared run a belongs to what the plan may
// call no longer declared: a run of the plan's project, submitted by apply
// (not ad hoc), of an experiment in scope.
func (o Options) inScope(a ActualRun) bool {
	if a.AdHoc || a.Project != o.Project {
		return false
	}
	return o.Experiments == nil || o.Experiments[a.Experiment]
}

func mergeActual(a, b ActualRun) ActualRun {
	if a.Project == "" {
		a.Project = b.Project
	}
	if b.HasJob && !a.HasJob {
		a.Status, a.Stopped, a.HasJob, a.Namespace = b.Status, b.Stopped, true, b.Namespace
	}
	a.HasRecord = a.HasRecord || b.HasRecord
	a.HasGate = a.HasGate || b.HasGate
	if a.Wait == "" {
		a.Wait = b.Wait
	}
	a.AdHoc = a.AdHoc || b.AdHoc
	if a.Experiment == "" {
		a.Experiment = b.Experiment
	}
	return a
}

func changeOf(d DesiredRun) Change {
	return Change{ID: d.ID, Namespace: d.Namespace, SpecHash: d.SpecHash, Summary: d.Summary, Job: d.Job}
}

func refOf(a ActualRun) RunRef {
	r := RunRef{ID: a.ID, Namespace: a.Namespace, Status: a.Status, Active: a.Active()}
	if !a.HasJob && !a.HasRecord {
		r.Wait, r.Gated = a.Wait, a.HasGate
	}
	return r
}

// DesiredHash fingerprints a desired set: sorted IDs with their spec hashes.
func DesiredHash(desired []DesiredRun) string {
	keys := make([]string, 0, len(desired))
	for _, d := range desired {
		keys = append(keys, d.ID+"="+d.SpecHash)
	}
	return hashKeys(keys)
}

// ActualHash fingerprints the actual runs that can affect a plan over
// declared: every declared ID that is present (and whether its record is),
// and every undeclared, non-ad-hoc run in scope.
func ActualHash(actual []ActualRun, declared map[string]bool, opts Options) string {
	seen := make(map[string]string, len(actual))
	for _, a := range actual {
		if !declared[a.ID] && !opts.inScope(a) {
			continue
		}
		k := seen[a.ID]
		if a.HasJob {
			k += "j"
		}
		if a.HasRecord {
			k += "r"
		}
		if a.HasGate {
			k += "g"
		}
		seen[a.ID] = k
	}
	keys := make([]string, 0, len(seen))
	for id, k := range seen {
		keys = append(keys, id+"="+normFlags(k))
	}
	return hashKeys(keys)
}

func normFlags(k string) string {
	j, r := strings.Contains(k, "j"), strings.Contains(k, "r")
	switch {
	case j && r:
		return "jr"
	case j:
		return "j"
	case r:
		return "r"
	case strings.Contains(k, "g"):
		// Only a gate: the run waits. Its release into a job moves the
		// hash as any new job does.
		return "g"
	}
	return ""
}

func hashKeys(keys []string) string {
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func scopeList(opts Options) []string {
	if opts.Experiments == nil {
		return nil
	}
	out := make([]string, 0, len(opts.Experiments))
	for e, ok := range opts.Experiments {
		if ok {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Options returns the options the plan was computed with.
func (b Basis) Options() Options {
	if len(b.Scope) == 0 {
		return Options{Project: b.Project}
	}
	m := make(map[string]bool, len(b.Scope))
	for _, e := range b.Scope {
		m[e] = true
	}
	return Options{Project: b.Project, Experiments: m}
}

// Declared is the set of run IDs the plan declares (to create, or present).
func (p *RunPlan) Declared() map[string]bool {
	m := map[string]bool{}
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			m[c.ID] = true
		}
		for _, r := range e.Unchanged {
			m[r.ID] = true
		}
	}
	return m
}
