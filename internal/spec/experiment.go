package spec

import (
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/caravan-ml/caravan/internal/record"
)

var experimentSchema = &hcl.BodySchema{
	Attributes: append(append([]hcl.AttributeSchema{}, sharedAttrs...),
		hcl.AttributeSchema{Name: "description"},
		hcl.AttributeSchema{Name: "command"},
		hcl.AttributeSchema{Name: "args"},
		hcl.AttributeSchema{Name: "params"},
		hcl.AttributeSchema{Name: "depends_on"},
		hcl.AttributeSchema{Name: "rerun"},
		hcl.AttributeSchema{Name: "spot"},
	),
	Blocks: []hcl.BlockHeaderSchema{{Type: "source"}, {Type: "sweep"}, {Type: "resources"}, {Type: "checkpoint"}},
}

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "git", Required: true}, {Name: "commit"}, {Name: "path"}},
}

var (
	// experimentNameRe keeps names usable in Nomad job IDs, meta values and
	// file names: the run ID is "<name>-<8 hex>".
	experimentNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$`)
	commitRe         = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)
	digestRe         = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// MaxWaitFor bounds how many runs one run may wait for: every upstream run
// ID is written into each dependent job's meta, and Nomad keeps the job
// (and caravan its gate, a Variable of at most 64 KiB) in full.
const MaxWaitFor = 1000

// expState is an experiment while it is being decoded and expanded.
type expState struct {
	e     *Experiment
	ok    bool // decoded without errors: expand it
	sweep *sweepSpec
	tmpl  *runTemplate
}

func (l *loader) decodeExperiments(blocks []*hcl.Block) {
	first := map[string]*hcl.Block{}
	for _, b := range blocks {
		if l.interrupted() {
			return
		}
		name := b.Labels[0]
		if prev := first[name]; prev != nil {
			l.add(diagErr(b.LabelRanges[0], "Duplicate experiment",
				"An experiment named %q is already declared at %s. Experiment names must be unique across all files of the directory; rename one.", name, posString(prev.DefRange)))
			continue
		}
		first[name] = b
		if es := l.decodeExperiment(b); es != nil {
			l.exps = append(l.exps, es)
			l.cfg.Experiments = append(l.cfg.Experiments, es.e)
		}
	}
	l.checkDependencies()
}

func (l *loader) decodeExperiment(b *hcl.Block) *expState {
	errsBefore := countErrors(l.diags)
	name := b.Labels[0]
	if !experimentNameRe.MatchString(name) {
		l.add(diagErr(b.LabelRanges[0], "Invalid experiment name",
			"%q is not a valid experiment name: use 1-100 letters, digits, '-' and '_', starting with a letter or digit (it becomes part of Nomad job IDs).", name))
	}
	content, diags := b.Body.Content(experimentSchema)
	l.add(diags...)
	e := &Experiment{Name: name, Project: l.cfg.Project, DeclRange: b.DefRange}
	es := &expState{e: e}

	var own settings
	l.decodeSettings(content, &own)
	if a := content.Attributes["description"]; a != nil {
		e.Description, _ = l.attrString(a)
	}
	if a := content.Attributes["depends_on"]; a != nil {
		if v, ok := l.attrStringList(a); ok {
			e.DependsOn = v
			e.dependsRng = a.Expr.Range()
		}
	}
	if a := content.Attributes["spot"]; a != nil {
		l.decodeSpot(e, a)
	}
	if a := content.Attributes["rerun"]; a != nil {
		if v, ok := l.attrInt(a); ok {
			if v < 0 {
				l.add(diagErr(a.Expr.Range(), "Invalid rerun", "rerun is %d; it must be 0 or more. Increase it to force new runs of an unchanged experiment.", v))
			}
			e.Rerun = v
		}
	}
	var sweepBlocks []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "source":
			if e.Source != nil {
				l.add(diagErr(blk.DefRange, "Duplicate source block", "An experiment has at most one source block; remove one."))
				continue
			}
			e.Source = l.decodeSource(blk)
		case "sweep":
			sweepBlocks = append(sweepBlocks, blk)
		case "checkpoint":
			if e.Checkpoint != nil {
				l.add(diagErr(blk.DefRange, "Duplicate checkpoint block", "An experiment has at most one checkpoint block; remove one."))
				continue
			}
			e.Checkpoint = l.decodeCheckpoint(blk)
		}
	}
	l.merge(e, &own, content)
	l.checkCheckpoint(e)
	es.sweep = l.decodeSweep(e, content.Attributes["params"], sweepBlocks, b.DefRange)
	es.tmpl = l.prepareRunTemplate(e, es.sweep, content, &own)
	es.ok = countErrors(l.diags) == errsBefore
	return es
}

func countErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

func (l *loader) decodeSource(b *hcl.Block) *Source {
	content, diags := b.Body.Content(sourceSchema)
	l.add(diags...)
	s := &Source{}
	if a := content.Attributes["git"]; a != nil {
		if v, ok := l.attrString(a); ok {
			l.checkGitURL(a.Expr.Range(), v)
			s.Git = v
		}
	}
	if a := content.Attributes["commit"]; a != nil {
		if v, ok := l.attrString(a); ok {
			if !commitRe.MatchString(v) {
				l.add(diagErr(a.Expr.Range(), "Invalid commit",
					"commit %q is not a commit hash; a branch or tag name can move, so the run would not be reproducible. Use 7 to 40 hex digits, e.g. the output of git rev-parse HEAD.", v))
			}
			s.Commit = v
		}
	} else if content.Attributes["git"] != nil {
		l.add(diagErr(b.DefRange, "Missing commit",
			"A source with git needs commit = \"<7-40 hex digits>\" so that the run is reproducible; add the commit hash of the code to run."))
	}
	if a := content.Attributes["path"]; a != nil {
		if v, ok := l.attrString(a); ok {
			clean := path.Clean(v)
			switch {
			case path.IsAbs(v) || clean == ".." || strings.HasPrefix(clean, "../"):
				l.add(diagErr(a.Expr.Range(), "Invalid source path",
					"path %q must be a sub-directory inside the repository: relative, without leading \"..\".", v))
			case strings.Contains(v, "${") || strings.Contains(v, "%{"):
				l.add(diagErr(a.Expr.Range(), "Invalid source path",
					"path %q contains \"${\" or \"%%{\", which Nomad would interpolate when it starts the task; name the directory without them.", v))
			}
			s.Path = v
		}
	}
	return s
}

// checkGitURL refuses what would either leak or be changed on its way to
// the node: credentials in the URL land in job meta, records and every
// listing of the job; "${" is interpolated by Nomad; a query string would
// override the commit caravan asks the fetcher for.
func (l *loader) checkGitURL(rng hcl.Range, v string) {
	if strings.TrimSpace(v) == "" {
		l.add(diagErr(rng, "Empty git URL", "git must be the URL of a repository, e.g. \"https://github.com/acme/models.git\"."))
		return
	}
	if u, err := url.Parse(strings.TrimPrefix(v, "git::")); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword || u.Scheme == "https" || u.Scheme == "http" {
			l.add(diagErr(rng, "Credentials in the git URL",
				"The git URL carries a user name or password, which would be stored in job meta and run records, readable by anyone who can read jobs. Remove it and give the nodes read access to the repository instead (hcl/README.md, \"Private repositories\")."))
			return
		}
	}
	switch {
	case strings.Contains(v, "${") || strings.Contains(v, "%{"):
		l.add(diagErr(rng, "Invalid git URL",
			"The git URL contains \"${\" or \"%%{\", which Nomad would interpolate when it fetches the code; write the URL literally."))
	case strings.Contains(v, "?"):
		l.add(diagErr(rng, "Invalid git URL",
			"The git URL has a query string; caravan passes the commit to the fetcher itself, and options in the URL (such as ?ref=) would override it. Remove everything from \"?\" on."))
	}
}

// HasDigest reports whether an image reference names a digest
// ("name@sha256:<64 hex>"), which cannot move, rather than a tag.
func HasDigest(image string) bool {
	_, d, ok := strings.Cut(image, "@")
	return ok && digestRe.MatchString(d)
}

// merge applies the defaults block under the experiment's own settings and
// checks the rules that need both: driver and image, shm, GPU constraints,
// command.
func (l *loader) merge(e *Experiment, own *settings, content *hcl.BodyContent) {
	d := l.defaults
	// pool and pools are one choice: an experiment that makes it itself
	// ignores whichever of the two the defaults set.
	choice := d
	if own.pool.set || own.pools.set {
		choice = own
	}
	e.Pool = "default" // Nomad's own default node pool
	if choice.pool.set {
		e.Pool = choice.pool.v
		e.poolRng = choice.pool.rng
	}
	e.Priority = 50
	if p := own.priority.or(d.priority); p.set {
		e.Priority = p.v
	}
	e.Namespace = own.namespace.or(d.namespace).v
	e.Tags = own.tags.or(d.tags).v
	e.Timeout = own.timeout.or(d.timeout).v
	l.mergeStall(e, own, d)
	e.Retries = own.retries.or(d.retries).v

	l.mergeDriver(e, own, content)
	l.mergeResources(e, own)
	if choice.pools.set {
		l.choosePool(e, choice.pools, choice == own)
	}
}

// mergeDriver settles the driver, the image and its pinning: an image
// implies docker, and an image inherited from defaults does not follow an
// experiment that chose another driver itself.
func (l *loader) mergeDriver(e *Experiment, own *settings, content *hcl.BodyContent) {
	d := l.defaults
	driver := own.driver.or(d.driver)
	image := own.image.or(d.image)
	nonDocker := driver.set && driver.v != "docker"
	if nonDocker && image.set {
		switch {
		case own.image.set || !own.driver.set && d.image.set && d.driver.set:
			l.add(diagErr(image.rng, "Image needs the docker driver",
				"image is only used by the docker driver, but driver is %q (%s). Remove the image, or set driver = \"docker\".", driver.v, posString(driver.rng)))
		default:
			// The experiment chose exec/raw_exec itself: an image inherited
			// from defaults does not apply to it.
			image = opt[string]{}
		}
	}
	e.Image = image.v
	e.ImagePinning = record.PinningPin
	if p := own.imagePinning.or(d.imagePinning); p.set {
		e.ImagePinning = p.v
	}
	if e.ImagePinning == record.PinningRequireDigest && image.set && !HasDigest(image.v) {
		l.add(diagErr(image.rng, "Image not pinned to a digest",
			"image_pinning is \"require-digest\", but image %q names a tag, which can move. Write the image by digest (\"name@sha256:<64 hex digits>\"; `docker buildx imagetools inspect IMAGE` prints it), or use image_pinning = \"pin\" to let apply resolve the tag.", image.v))
	}
	switch {
	case driver.set:
		e.Driver, e.driverRng = driver.v, driver.rng
	case image.set:
		e.Driver, e.driverRng = "docker", image.rng
	default:
		e.Driver, e.driverRng = "exec", e.DeclRange
	}
	if e.Driver == "docker" && !image.set && driver.set {
		l.add(diagErr(driver.rng, "Missing image", "driver \"docker\" needs an image = \"...\"; add one, or use driver \"exec\" or \"raw_exec\"."))
	}
	if (e.Driver == "exec" || e.Driver == "raw_exec") && content.Attributes["command"] == nil {
		at := content.MissingItemRange
		if driver.set {
			at = driver.rng
		}
		l.add(diagErr(at, "Missing command",
			"Experiment %q uses driver %q, which runs a program directly, so it needs command = \"...\" (e.g. \"python\"); only docker images bring their own entrypoint.", e.Name, e.Driver))
	}
}

// mergeResources settles resources; constraints that need the docker
// driver or GPUs are dropped when inherited and reported when written.
func (l *loader) mergeResources(e *Experiment, own *settings) {
	d := l.defaults
	r, dr := &own.res, &d.res
	res := &e.Resources
	res.GPUs = r.gpus.or(dr.gpus).v
	if r.cpu.set || r.cores.set {
		res.CPU, res.Cores = r.cpu.v, r.cores.v
	} else {
		res.CPU, res.Cores = dr.cpu.v, dr.cores.v
	}
	res.Memory = r.memory.or(dr.memory).v
	res.Disk = r.disk.or(dr.disk).v
	shm := r.shm.or(dr.shm)
	if shm.set && e.Driver != "docker" {
		if r.shm.set {
			l.add(diagErr(shm.rng, "shm needs the docker driver",
				"shm sets docker's shm_size, but this experiment uses driver %q. Remove shm or use an image.", e.Driver))
		}
		shm = opt[int64]{}
	}
	res.SHM = shm.v
	res.GPUModel = r.gpuModel.or(dr.gpuModel).v
	res.GPUMemory = r.gpuMemory.or(dr.gpuMemory).v
	if res.GPUs == 0 {
		// Constraints inherited from defaults do not apply to a CPU-only
		// experiment; constraints written in the experiment itself are a
		// mistake worth reporting.
		for _, o := range []opt[string]{{set: r.gpuModel.set, rng: r.gpuModel.rng}, {set: r.gpuMemory.set, rng: r.gpuMemory.rng}} {
			if o.set {
				l.add(diagErr(o.rng, "GPU constraint without GPUs",
					"gpu_model and gpu_memory constrain the GPUs a run gets, but gpus is 0. Set gpus = 1 or more in resources, or remove the constraint."))
			}
		}
		res.GPUModel, res.GPUMemory = "", 0
	}
}

// checkDependencies validates depends_on: known experiments, no self
// reference, no cycle.
func (l *loader) checkDependencies() {
	byName := map[string]*Experiment{}
	for _, es := range l.exps {
		byName[es.e.Name] = es.e
	}
	for _, es := range l.exps {
		e := es.e
		for _, dep := range e.DependsOn {
			switch {
			case dep == e.Name:
				l.add(diagErr(e.dependsRng, "Experiment depends on itself", "depends_on of %q lists %q itself; remove it.", e.Name, dep))
				es.ok = false
			case byName[dep] == nil:
				l.add(diagErr(e.dependsRng, "Unknown experiment in depends_on",
					"depends_on names %q, but no experiment of that name is declared in this directory.%s", dep, suggest(dep, keysOf(byName))))
				es.ok = false
			}
		}
	}
	for _, es := range l.exps {
		e := es.e
		n := 0
		for _, dep := range e.DependsOn {
			if up := byName[dep]; up != nil && dep != e.Name {
				n += up.RunCount
			}
		}
		if n > MaxWaitFor {
			l.add(diagErr(e.dependsRng, "Too many runs to wait for",
				"The experiments %q depends on have %d runs together; a run can wait for at most %d, because each names all of them. Split the upstream sweep into an experiment of its own that finishes first, or depend on a smaller one.", e.Name, n, MaxWaitFor))
			es.ok = false
		}
	}
	// Cycle detection over the valid edges, reported once per cycle at the
	// experiment where the walk closes it.
	state := map[string]int{}
	var visit func(n string, stack []string)
	visit = func(n string, stack []string) {
		state[n] = 1
		e := byName[n]
		for _, dep := range e.DependsOn {
			if byName[dep] == nil || dep == n {
				continue
			}
			switch state[dep] {
			case 0:
				visit(dep, append(stack, n))
			case 1:
				cycle := append(append([]string{}, stack[indexOf(stack, dep):]...), n, dep)
				l.add(diagErr(e.dependsRng, "Dependency cycle",
					"Experiments depend on each other in a cycle (%s), so none could ever start. Remove one of the depends_on entries.", strings.Join(cycle, " → ")))
			}
		}
		state[n] = 2
	}
	names := keysOf(byName)
	sort.Strings(names)
	for _, n := range names {
		if state[n] == 0 {
			visit(n, nil)
		}
	}
}
