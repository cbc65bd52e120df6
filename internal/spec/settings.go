package spec

import (
	"regexp"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/caravan-ml/caravan/internal/record"
)

// opt is a setting that may be unset, with the range that set it, so that
// defaults can be told apart from explicit values and diagnostics can point
// at whichever block gave the value.
type opt[T any] struct {
	v   T
	set bool
	rng hcl.Range
}

func (o *opt[T]) put(v T, rng hcl.Range) { o.v, o.set, o.rng = v, true, rng }

// or returns o when set, else fallback.
func (o opt[T]) or(fallback opt[T]) opt[T] {
	if o.set {
		return o
	}
	return fallback
}

// settings are the attributes an experiment shares with the defaults block.
type settings struct {
	pool, namespace, image, driver opt[string]
	imagePinning                   opt[string]
	pools                          opt[poolList] // exclusive with pool in one block
	priority, retries              opt[int]
	tags                           opt[[]string]
	timeout, stallTimeout          opt[time.Duration]
	onStall                        opt[string]
	env                            []envEntry // defaults only: static entries
	res                            resSettings
}

type resSettings struct {
	gpus, cpu, cores             opt[int]
	gpuModel                     opt[string]
	gpuMemory, memory, shm, disk opt[int64]
	block                        hcl.Range // the resources block, for messages
}

// envEntry is one static environment variable with where it was set.
type envEntry struct {
	name, value string
	rng         hcl.Range
}

// sharedAttrs are the attributes of both defaults and experiment blocks.
var sharedAttrs = []hcl.AttributeSchema{
	{Name: "pool"}, {Name: "pools"}, {Name: "priority"}, {Name: "namespace"}, {Name: "tags"},
	{Name: "image"}, {Name: "driver"}, {Name: "env"}, {Name: "timeout"}, {Name: "retries"},
	{Name: "image_pinning"}, {Name: "stall_timeout"}, {Name: "on_stall"},
}

var defaultsSchema = &hcl.BodySchema{
	Attributes: sharedAttrs,
	Blocks:     []hcl.BlockHeaderSchema{{Type: "resources"}},
}

var resourcesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "gpus"}, {Name: "gpu_model"}, {Name: "gpu_memory"}, {Name: "cpu"},
		{Name: "cores"}, {Name: "memory"}, {Name: "shm"}, {Name: "disk"},
	},
}

// Names Nomad accepts for node pools and namespaces.
var (
	nodePoolNameRe  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	namespaceNameRe = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)
)

var drivers = map[string]bool{"docker": true, "exec": true, "raw_exec": true}

var pinnings = []string{record.PinningPin, record.PinningRequireDigest, record.PinningAllowMutable}

// decodeSettings reads the shared attributes (except env, which the caller
// handles because experiments may use param in it) and the resources
// blocks of content into s.
func (l *loader) decodeSettings(content *hcl.BodyContent, s *settings) {
	for _, a := range attrsInOrder(content.Attributes) {
		name := a.Name
		switch name {
		case "pool", "namespace", "image", "driver":
			l.decodeName(a, s)
		case "image_pinning":
			v, ok := l.attrString(a)
			if !ok {
				continue
			}
			if !slices.Contains(pinnings, v) {
				l.add(diagErr(a.Expr.Range(), "Invalid image_pinning",
					"image_pinning %q is not a mode: use \"pin\" (apply resolves the tag to its digest), \"require-digest\" (the image must be written with @sha256:...) or \"allow-mutable\" (the tag runs as it moves).%s", v, suggest(v, pinnings)))
				continue
			}
			s.imagePinning.put(v, a.Expr.Range())
		case "pools":
			l.decodePoolList(a, s)
		case "priority":
			if v, ok := l.attrInt(a); ok {
				if v < 1 || v > 100 {
					l.add(diagErr(a.Expr.Range(), "Priority out of range",
						"priority is %d; Nomad job priorities are 1..100 (default 50).", v))
					continue
				}
				s.priority.put(v, a.Expr.Range())
			}
		case "retries":
			if v, ok := l.attrInt(a); ok {
				if v < 0 {
					l.add(diagErr(a.Expr.Range(), "Invalid retries", "retries is %d; it must be 0 or more (Nomad reschedule attempts).", v))
					continue
				}
				s.retries.put(v, a.Expr.Range())
			}
		case "tags":
			if v, ok := l.attrStringList(a); ok {
				s.tags.put(v, a.Expr.Range())
			}
		case "timeout":
			if v, ok := l.attrDuration(a); ok {
				s.timeout.put(v, a.Expr.Range())
			}
		case "stall_timeout", "on_stall":
			l.decodeStall(a, s)
		}
	}
	l.checkPoolConflict(content, s)
	seen := false
	for _, b := range content.Blocks {
		if b.Type != "resources" {
			continue
		}
		if seen {
			l.add(diagErr(b.DefRange, "Duplicate resources block", "Only one resources block is allowed here; merge the two."))
			continue
		}
		seen = true
		l.decodeResources(b, &s.res)
	}
}

// decodeName reads the settings that name something outside the file (a
// node pool, a namespace, an image, a driver), each checked against what
// Nomad or a registry would accept.
func (l *loader) decodeName(a *hcl.Attribute, s *settings) {
	name := a.Name
	v, ok := l.attrString(a)
	if !ok {
		return
	}
	rng := a.Expr.Range()
	switch name {
	case "pool":
		if !nodePoolNameRe.MatchString(v) {
			l.add(diagErr(rng, "Invalid pool name",
				"%q is not a valid Nomad node pool name: use 1-128 letters, digits, '-' and '_'.", v))
			return
		}
		s.pool.put(v, rng)
	case "namespace":
		if !namespaceNameRe.MatchString(v) {
			l.add(diagErr(rng, "Invalid namespace",
				"%q is not a valid Nomad namespace name: use 1-128 letters, digits and '-'.", v))
			return
		}
		s.namespace.put(v, rng)
	case "image":
		if v == "" {
			l.add(diagErr(rng, "Empty image", "image must name a container image, e.g. \"ghcr.io/acme/train:1.4\"; remove the attribute to run without a container."))
			return
		}
		s.image.put(v, rng)
	case "driver":
		if !drivers[v] {
			l.add(diagErr(rng, "Unsupported driver",
				"driver %q is not supported; use \"docker\", \"exec\" or \"raw_exec\".%s", v, suggest(v, []string{"docker", "exec", "raw_exec"})))
			return
		}
		s.driver.put(v, rng)
	}
}

func (l *loader) decodeResources(b *hcl.Block, r *resSettings) {
	content, diags := b.Body.Content(resourcesSchema)
	l.add(diags...)
	r.block = b.DefRange
	for _, a := range attrsInOrder(content.Attributes) {
		name, rng := a.Name, a.Expr.Range()
		switch name {
		case "gpus", "cpu", "cores":
			v, ok := l.attrInt(a)
			if !ok {
				continue
			}
			switch {
			case name == "gpus" && v < 0:
				l.add(diagErr(rng, "Invalid GPU count", "gpus is %d; it must be 0 or more.", v))
			case name == "gpus":
				r.gpus.put(v, rng)
			case v <= 0:
				l.add(diagErr(rng, "Invalid "+name, "%s is %d; it must be larger than zero (%s).", name, v, map[string]string{"cpu": "MHz", "cores": "whole CPU cores"}[name]))
			case name == "cpu":
				r.cpu.put(v, rng)
			default:
				r.cores.put(v, rng)
			}
		case "gpu_model":
			if v, ok := l.attrString(a); ok {
				if v == "" {
					l.add(diagErr(rng, "Empty gpu_model", "gpu_model must name a model such as \"H100\"; remove it to accept any GPU."))
					continue
				}
				r.gpuModel.put(v, rng)
			}
		case "gpu_memory", "memory", "shm", "disk":
			v, ok := l.attrSize(a)
			if !ok {
				continue
			}
			map[string]*opt[int64]{"gpu_memory": &r.gpuMemory, "memory": &r.memory, "shm": &r.shm, "disk": &r.disk}[name].put(v, rng)
		}
	}
	if r.cpu.set && r.cores.set {
		l.add(diagErr(r.cores.rng, "Conflicting cpu and cores",
			"cpu (MHz) and cores (whole cores) are mutually exclusive in Nomad; keep one of them."))
		r.cores = opt[int]{}
	}
}

// decodeDefaults reads the single optional defaults block.
func (l *loader) decodeDefaults(blocks []*hcl.Block) {
	l.defaults = &settings{}
	for i, b := range blocks {
		if i > 0 {
			l.add(diagErr(b.DefRange, "Duplicate defaults block",
				"A configuration has at most one defaults block; the first is at %s. Merge them.", posString(blocks[0].DefRange)))
			continue
		}
		l.defaultsRng = b.DefRange
		content, diags := b.Body.Content(defaultsSchema)
		l.add(diags...)
		l.decodeSettings(content, l.defaults)
		if a := content.Attributes["env"]; a != nil {
			l.defaults.env = l.staticEnv(a)
		}
	}
}
