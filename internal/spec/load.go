package spec

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// DefaultMaxRuns is the largest sweep Load expands when LoadOptions.MaxRuns
// is zero.
const DefaultMaxRuns = 10000

// LoadOptions are the inputs to Load that do not come from the files.
type LoadOptions struct {
	// Vars are -var name=value pairs, values as raw strings parsed like
	// Terraform does (see hcl/README.md).
	Vars map[string]string
	// VarFiles are -var-file paths, applied in order.
	VarFiles []string
	// Env is the process environment as KEY=VALUE strings; CARAVAN_VAR_name
	// entries set variables.
	Env []string
	// MaxRuns caps the runs one experiment's sweep may yield; 0 means
	// DefaultMaxRuns.
	MaxRuns int
	// Catalog is the operator's pools and policy, which experiments may
	// name but not declare; nil means none (every pool an experiment
	// names maps to the node pool of that name, under DefaultPolicy).
	Catalog *Catalog
	// VarValues set variables to values already resolved (a snapshot's,
	// see Config.Variables), over every other source.
	VarValues map[string]cty.Value
	// Point, when set, expands one run of one experiment at the given
	// params instead of the sweeps (see Point).
	Point *Point

	// pools loads an operator's pools directory (LoadPools).
	pools bool
}

// rootSchema lists the top-level blocks of a configuration file.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "caravan"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "defaults"},
		{Type: "pool", LabelNames: []string{"name"}},
		{Type: "policy"},
		{Type: "experiment", LabelNames: []string{"name"}},
	},
}

// Load reads every *.hcl file of dir, in name order, as one configuration.
// The returned Config is never nil: even when diagnostics have errors it
// carries the parsed Files so that the caller can print source snippets.
// All errors in the directory are reported, not only the first.
//
// Load checks ctx between files, blocks and every few sweep points; once
// ctx is done it stops and reports an "Interrupted" error, so that Ctrl-C,
// SIGTERM or a CI cancel ends even a load of a huge sweep promptly.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Pools: map[string]*Pool{}}
		return cfg, hcl.Diagnostics{diagErr(fileRange(dir), "Cannot read configuration directory",
			"Reading %s failed: %s. Pass an existing directory of *.hcl files.", dir, err)}
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files = append(files, e.Name())
	}
	if len(files) == 0 {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Pools: map[string]*Pool{}}
		return cfg, hcl.Diagnostics{diagErr(fileRange(dir), "No configuration files",
			"The directory %s has no *.hcl files. Point caravan at the directory that holds your experiment files.", dir)}
	}
	return LoadFiles(ctx, dir, files, opts)
}

// LoadFiles is Load restricted to the given files. Relative file names are
// resolved against dir; files are read in the order given, after sorting.
// Every file must lie inside dir (see ReadFile for the rules a file must
// meet).
func LoadFiles(ctx context.Context, dir string, files []string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	l := newLoader(ctx, dir, opts)
	rootDir := dir
	if rootDir == "" {
		rootDir = "."
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		l.add(diagErr(fileRange(dir), "Cannot read configuration directory",
			"Opening %s failed: %s. Pass an existing directory of *.hcl files.", dir, err))
		return l.cfg, l.diags
	}
	defer root.Close()
	type file struct{ rel, display string }
	list := make([]file, 0, len(files))
	for _, f := range files {
		rel, display := f, f
		if filepath.IsAbs(f) {
			var ok bool
			if rel, ok = inside(rootDir, f); !ok {
				l.add(diagErr(fileRange(f), "File outside the configuration directory",
					"%s is not inside %s; caravan reads only files inside the directory it is given. Move the file into it.", f, dir))
				continue
			}
		} else if dir != "" {
			display = filepath.Join(dir, f)
		}
		list = append(list, file{rel, display})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].display < list[j].display })
	for _, f := range list {
		if l.interrupted() {
			return l.cfg, l.diags
		}
		src, diags := readInRoot(root, f.rel, f.display, "configuration file")
		l.add(diags...)
		if diags.HasErrors() {
			continue
		}
		l.parseSource(f.display, src)
	}
	l.run()
	return l.cfg, l.diags
}

// inside returns file relative to dir when it lies inside dir.
func inside(dir, file string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(abs, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// LoadSource loads configuration from in-memory files (name → contents),
// for tests and fuzzing; it reads nothing from disk except opts.VarFiles,
// and cannot be interrupted.
func LoadSource(dir string, files map[string][]byte, opts LoadOptions) (*Config, hcl.Diagnostics) {
	l := newLoader(context.Background(), dir, opts)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l.parseSource(n, files[n])
	}
	l.run()
	return l.cfg, l.diags
}

// loader holds the state of one Load call; its phases run in order in run.
type loader struct {
	stop    context.Context // the caller's: done means stop (Load)
	dir     string
	opts    LoadOptions
	maxRuns int
	cfg     *Config
	diags   hcl.Diagnostics

	bodies []*hcl.BodyContent // top-level content of each file, in file order

	vars      map[string]*variable
	varOrder  []string
	locals    map[string]*localDef
	localVals map[string]cty.Value
	ctx       *hcl.EvalContext // var, local and functions

	exps []*expState

	funcs map[string]function.Function // functions plus this load's "for" counter

	defaults    *settings
	defaultsRng hcl.Range

	runBytes    int  // size of the runs expanded so far (limits.go)
	interrupt   bool // stop was done; reported once
	interruptAt int  // index of that report in diags
}

func newLoader(stop context.Context, dir string, opts LoadOptions) *loader {
	max := opts.MaxRuns
	if max <= 0 {
		max = DefaultMaxRuns
	}
	l := &loader{
		stop:    stop,
		dir:     dir,
		opts:    opts,
		maxRuns: max,
		cfg:     &Config{Dir: dir, Files: map[string]*hcl.File{}, Pools: map[string]*Pool{}, Policy: policyOf(opts)},
		vars:    map[string]*variable{},
		locals:  map[string]*localDef{},
	}
	l.funcs = withForCounter(functions, l.interrupted)
	return l
}

func (l *loader) add(d ...*hcl.Diagnostic) { l.diags = append(l.diags, d...) }

// interrupted reports whether the caller's context is done, adding the
// diagnostic that says so the first time. Phases call it between units of
// work and return early when it is true.
func (l *loader) interrupted() bool {
	if l.interrupt {
		return true
	}
	if l.stop.Err() == nil {
		return false
	}
	l.interrupt, l.interruptAt = true, len(l.diags)
	dir := l.dir
	if dir == "" {
		dir = "."
	}
	l.add(diagErr(fileRange(dir), "Interrupted",
		"Loading %s was stopped before it finished (%v); nothing was changed. Run the command again to load it completely.", dir, context.Cause(l.stop)))
	return true
}

func (l *loader) parseSource(name string, src []byte) {
	l.cfg.SourceFiles = append(l.cfg.SourceFiles, name)
	if len(src) > maxFileBytes {
		l.add(tooLarge(name, "configuration file", int64(len(src))))
		return
	}
	if d := checkText(src, name); d != nil {
		// Not kept for snippets: a file that is not text is never echoed.
		l.add(d)
		return
	}
	if d := checkTokens(src, name); d.HasErrors() {
		// Keep the file for snippets, but do not parse it: the parser
		// would recurse past the stack limit.
		l.cfg.Files[name] = &hcl.File{Bytes: src, Body: hcl.EmptyBody()}
		l.add(d...)
		return
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	l.add(diags...)
	if f == nil {
		return
	}
	l.cfg.Files[name] = f
	boundedOps(f.Body)
	boundForExprs(f.Body)
	content, diags := f.Body.Content(rootSchema)
	l.add(diags...)
	if content != nil {
		l.bodies = append(l.bodies, content)
	}
}

// run executes the phases over all parsed files.
func (l *loader) run() {
	var caravanBlocks, varBlocks, localBlocks, defaultBlocks, poolBlocks, policyBlocks, expBlocks []*hcl.Block
	for _, c := range l.bodies {
		for _, b := range c.Blocks {
			switch b.Type {
			case "caravan":
				caravanBlocks = append(caravanBlocks, b)
			case "variable":
				varBlocks = append(varBlocks, b)
			case "locals":
				localBlocks = append(localBlocks, b)
			case "defaults":
				defaultBlocks = append(defaultBlocks, b)
			case "pool":
				poolBlocks = append(poolBlocks, b)
			case "policy":
				policyBlocks = append(policyBlocks, b)
			case "experiment":
				expBlocks = append(expBlocks, b)
			}
		}
	}
	// Pools before defaults and experiments: a pools list is checked
	// against the declared pools as it is decoded.
	phases := []func(){
		func() { l.decodeVariables(varBlocks) },
		func() { l.decodeLocals(localBlocks) },
		l.buildContext,
		func() { l.decodeCaravan(caravanBlocks) },
		l.addCatalogPools,
		func() { l.decodePools(poolBlocks) },
		func() { l.decodePolicy(policyBlocks) },
	}
	if l.opts.pools {
		phases = append(phases,
			func() { l.rejectInPoolsDir(append(defaultBlocks, expBlocks...)) },
			l.warnUnusablePools)
	} else {
		phases = append(phases,
			func() { l.decodeDefaults(defaultBlocks) },
			func() { l.decodeExperiments(expBlocks) },
			l.addImplicitPools,
			l.enforcePolicy,
			l.applyPoint,
			l.expandAll)
	}
	for _, phase := range phases {
		if l.interrupted() {
			break
		}
		phase()
	}
	if l.interrupted() {
		// A partial expansion must not look like the configuration, and
		// what an interrupted evaluation reported after the interruption
		// is its consequence, not a mistake in the files.
		l.cfg.Runs = nil
		l.diags = l.diags[:l.interruptAt+1]
	}
	l.diags = dedupe(l.diags)
	// Report in reading order: file by file, top to bottom, whatever phase
	// found the problem.
	sort.SliceStable(l.diags, func(i, j int) bool {
		a, b := l.diags[i].Subject, l.diags[j].Subject
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

// dedupe drops repeated diagnostics: a mistake in the defaults block that
// shows in every experiment is reported once.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := make(map[key]bool, len(diags))
	out := diags[:0]
	for _, d := range diags {
		k := key{d.Severity, d.Summary, d.Detail, hcl.Range{}}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

// buildContext makes the evaluation context of every expression outside
// variable blocks: var.*, local.* and the function library.
func (l *loader) buildContext() {
	vars := make(map[string]cty.Value, len(l.vars))
	for name, v := range l.vars {
		vars[name] = v.value
	}
	l.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(vars),
			"local": cty.ObjectVal(l.localVals),
		},
		Functions: l.funcs,
	}
}

// functions is built once: the table is immutable and shared by all loads.
var functions = Functions()
