package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// cloneRun is `caravan rerun RUN -param name=value ...`: the run's
// experiment expanded again from the configuration snapshot it was
// compiled from, at its params with the edits, and compiled as apply
// would: a new content ID (the ID the files would give that sweep point),
// the language's checks on names and types, and a record saying what it
// was cloned from and what changed. See spec.Point for why a snapshot and
// not the recorded job.
func cloneRun(ctx context.Context, env Env, cl *nomad.Client, ri *query.Found, edits []string, catf *catalogFlags) int {
	rec := ri.Record
	orig, err := paramValues(rec)
	if err != nil {
		errorf(env, "cannot clone %s: %v", ri.ID, err)
		return ExitError
	}
	point, changes, err := editedPoint(orig, edits)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	if len(changes) == 0 {
		errorf(env, "the -param values equal run %s's own; `caravan rerun %s` (without -param) reruns it as it was", ri.ID, ri.ID)
		return ExitUsage
	}
	if rec.Config.Snapshot == "" {
		errorf(env, "cannot clone %s with other params: it was submitted without a configuration snapshot (before caravan kept them, or from a saved plan of an older caravan); edit the experiment's files and apply instead (hcl/README.md, \"Clone with edits\")", ri.ID)
		return ExitError
	}
	snap, err := cl.Snapshot(ctx, record.SnapshotRef{Namespace: ri.Namespace, Project: rec.Project, Hash: rec.Config.Snapshot})
	if err != nil {
		return nomadError(env, fmt.Errorf("read the configuration run %s was compiled from: %w", ri.ID, err))
	}
	cat, diags := catf.load(ctx, env, cl, true)
	if diags.HasErrors() {
		writeDiags(env, nil, diags, false)
		return ExitError
	}
	// The snapshot must give back the run itself before it gives a clone:
	// otherwise (another pool catalogue, a policy that changed) the clone
	// would differ from the run in more than its params.
	same, _, code := expandPoint(env, snap, rec, cat, orig)
	if same == nil {
		return code
	}
	if h := compile.SpecHash(*same); h != rec.SpecHash {
		errorf(env, "cannot clone %s: its configuration snapshot no longer gives the run itself (spec hash %.12s, the run's %.12s), likely because the operator's pool catalogue or policy changed since; edit the experiment's files and apply instead", ri.ID, h, rec.SpecHash)
		return ExitError
	}
	run, cfg, code := expandPoint(env, snap, rec, cat, point)
	if run == nil {
		return code
	}
	job, err := compile.Job(*run, compile.Options{ConfigDir: rec.Config.Dir, ConfigCommit: rec.Config.Commit, ConfigDirty: rec.Config.Dirty,
		CaravanVersion: Version, Pools: cfg.Pools})
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	if err := stampClone(ctx, cl, job, rec, changes); err != nil {
		return nomadError(env, err)
	}
	created, err := cl.CreateJob(ctx, job)
	switch {
	case err != nil:
		return nomadError(env, err)
	case !created:
		fmt.Fprintf(env.Stdout, "Run %s, %s with %s, exists already (`caravan show %s`).\n", *job.ID, ri.ID, record.ChangesText(changes), *job.ID)
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "Submitted %s, a clone of %s with %s.\n", *job.ID, ri.ID, record.ChangesText(changes))
	fmt.Fprintf(env.Stdout, "To keep it in the experiment's files, add the point to %s (hcl/README.md, \"Clone with edits\"): apply then finds it unchanged.\n", cmpOr(rec.Config.File, "its experiment"))
	return ExitOK
}

// expandPoint loads the snapshot with the run's experiment at params; nil
// comes with the exit code after the diagnostics were printed.
func expandPoint(env Env, snap *record.ConfigSnapshot, rec *record.Run, cat *spec.Catalog, params map[string]cty.Value) (*spec.Run, *spec.Config, int) {
	cfg, diags := spec.LoadSnapshot(snap, rec.Config.Dir, spec.LoadOptions{Catalog: cat, Point: &spec.Point{Experiment: rec.Experiment, Params: params}})
	if cfg.Project == "" && rec.Project != "" {
		cfg.SetProject(rec.Project) // caravan run -project gave it
	}
	if diags.HasErrors() || len(cfg.Runs) != 1 {
		writeDiags(env, cfg.Files, diags, false)
		if !diags.HasErrors() {
			errorf(env, "the configuration snapshot of run %s gives no run of experiment %q", rec.RunID, rec.Experiment)
		}
		return nil, cfg, ExitError
	}
	return &cfg.Runs[0], cfg, ExitOK
}

// stampClone writes into a clone's meta how it was made and by whom, and
// pins the image the original ran when the clone declares the same one.
func stampClone(ctx context.Context, cl *nomad.Client, job *api.Job, rec *record.Run, changes []record.ParamChange) error {
	b, _ := json.Marshal(changes)
	job.Meta[record.MetaOrigin] = record.OriginClone
	job.Meta[record.MetaClonedFrom] = rec.RunID
	job.Meta[record.MetaChanged] = string(b)
	job.Meta[record.MetaConfigSnapshot] = rec.Config.Snapshot
	who, err := cl.Self(ctx)
	if err != nil && !errors.Is(err, nomad.ErrPermission) {
		return err
	}
	if by := who.String(); by != "" {
		job.Meta[record.MetaSubmittedBy] = by
	}
	if v, err := cl.ServerVersion(ctx); err == nil && v != "" {
		job.Meta[record.MetaNomadVersion] = v
	}
	if rec.ImageDigest != "" && job.Meta[record.MetaImage] == rec.Image && job.Meta[record.MetaImageDigest] == "" {
		return compile.PinImage(job, rec.ImageDigest)
	}
	return nil
}

// paramValues are a run's params as the language typed them, read from
// the job's params meta (JSON keeps strings apart from numbers and bools;
// numbers are parsed from their text, exactly).
func paramValues(rec *record.Run) (map[string]cty.Value, error) {
	var job struct{ Meta map[string]string }
	if err := json.Unmarshal(rec.Job, &job); err != nil {
		return nil, fmt.Errorf("its record holds no readable job: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(job.Meta[record.MetaParams]), &raw); err != nil {
		return nil, fmt.Errorf("its job meta %s is not a JSON object: %w", record.MetaParams, err)
	}
	out := make(map[string]cty.Value, len(raw))
	for name, v := range raw {
		var s string
		var b bool
		switch {
		case json.Unmarshal(v, &s) == nil:
			out[name] = cty.StringVal(s)
		case json.Unmarshal(v, &b) == nil:
			out[name] = cty.BoolVal(b)
		default:
			n, err := cty.ParseNumberVal(string(v))
			if err != nil {
				return nil, fmt.Errorf("param %s is %s, not a string, number or bool", name, v)
			}
			out[name] = n
		}
	}
	return out, nil
}

// editedPoint is the run's params with the -param edits, each parsed as
// the type the run's own value of that param has (a string when the run
// has none: the language then refuses the name), and what changed.
func editedPoint(orig map[string]cty.Value, edits []string) (map[string]cty.Value, []record.ParamChange, error) {
	point := maps.Clone(orig)
	changed := map[string]record.ParamChange{}
	for _, e := range edits {
		name, text, ok := strings.Cut(e, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("-param %q: write -param name=value (e.g. -param lr=0.005)", e)
		}
		v := cty.StringVal(text)
		old, known := orig[name]
		switch {
		case !known:
		case old.Type() == cty.Number:
			n, err := cty.ParseNumberVal(strings.TrimSpace(text))
			if err != nil {
				return nil, nil, fmt.Errorf("-param %s=%s: %s is a number in the run; %q is not a number", name, text, name, text)
			}
			v = n
		case old.Type() == cty.Bool:
			b, err := strconv.ParseBool(strings.TrimSpace(text))
			if err != nil {
				return nil, nil, fmt.Errorf("-param %s=%s: %s is a bool in the run; write true or false", name, text, name)
			}
			v = cty.BoolVal(b)
		}
		point[name] = v
		from := "(none)"
		if known {
			from = compile.ParamString(old)
		}
		if known && old.Equals(v).True() {
			delete(changed, name)
			continue
		}
		changed[name] = record.ParamChange{Name: name, From: from, To: compile.ParamString(v)}
	}
	var out []record.ParamChange
	for _, n := range slices.Sorted(maps.Keys(changed)) {
		out = append(out, changed[n])
	}
	return point, out, nil
}
