package spec

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Pool defaults.
const (
	DefaultPoolGPU         = "nvidia/gpu"
	DefaultPoolIdleTimeout = 10 * time.Minute
	DefaultPoolBootTimeout = 15 * time.Minute
	// DefaultPoolMinIdle is how long an empty node is kept at least before
	// the autoscaler may remove it early, when its warm buffer does not
	// need the node. idle_timeout stays the upper bound.
	DefaultPoolMinIdle = time.Minute
)

// poolAttr is one attribute of the pool block. The pool schema lives only in
// poolAttrs: adding an attribute means adding one entry here (and a field
// to Pool), nothing else.
type poolAttr struct {
	name   string
	decode func(l *loader, p *Pool, a *hcl.Attribute)
}

var poolAttrs = []poolAttr{
	{"node_pool", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrString(a); ok {
			if !nodePoolNameRe.MatchString(v) {
				l.add(diagErr(a.Expr.Range(), "Invalid node pool name",
					"%q is not a valid Nomad node pool name: use 1-128 letters, digits, '-' and '_'.", v))
				return
			}
			p.NodePool = v
		}
	}},
	{"gpu", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrString(a); ok {
			if v == "" {
				l.add(diagErr(a.Expr.Range(), "Empty gpu device name", "gpu names the Nomad device that counts as a GPU, e.g. \"nvidia/gpu\"; remove it for that default."))
				return
			}
			p.GPU = v
		}
	}},
	{"gpus_per_node", poolCount(func(p *Pool, n int) { p.GPUsPerNode = n })},
	{"cpu_per_node", poolCount(func(p *Pool, n int) { p.CPUPerNode = n })},
	{"memory_per_node", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrSize(a); ok {
			p.MemoryPerNode = v
		}
	}},
	{"min_nodes", poolCount(func(p *Pool, n int) { p.MinNodes = n })},
	{"max_nodes", poolCount(func(p *Pool, n int) { p.MaxNodes = n })},
	{"idle_timeout", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrDuration(a); ok {
			p.IdleTimeout = v
		}
	}},
	{"min_idle", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrDuration(a); ok {
			p.MinIdle = v
		}
	}},
	{"boot_timeout", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrDuration(a); ok {
			p.BootTimeout = v
		}
	}},
	{"spot", decodePoolSpot},
	{"spot_fallback", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrString(a); ok {
			p.SpotFallback, p.spotFallbackRng = v, a.Expr.Range()
		}
	}},
	{"spot_max_preemptions", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrInt(a); ok {
			if v < 1 {
				l.add(diagErr(a.Expr.Range(), "Invalid spot_max_preemptions", "spot_max_preemptions is %d; give how many preemptions a run takes on this spot pool before it moves to spot_fallback, 1 or more.", v))
				return
			}
			p.SpotMaxPreemptions = v
		}
	}},
	{"price_per_hour", func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrNumber(a); ok {
			if v < 0 {
				l.add(diagErr(a.Expr.Range(), "Invalid price", "price_per_hour is %g; it must be 0 or more (the price of one node per hour).", v))
				return
			}
			p.PricePerHour = v
		}
	}},
}

// poolCount decodes a non-negative whole number.
func poolCount(set func(*Pool, int)) func(*loader, *Pool, *hcl.Attribute) {
	return func(l *loader, p *Pool, a *hcl.Attribute) {
		if v, ok := l.attrInt(a); ok {
			if v < 0 {
				l.add(diagErr(a.Expr.Range(), "Invalid "+a.Name, "%s is %d; it must be 0 or more.", a.Name, v))
				return
			}
			set(p, v)
		}
	}
}

var poolSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "terraform"}}}
	for _, a := range poolAttrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.name})
	}
	return s
}()

var poolTerraformSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "module", Required: true}, {Name: "vars"}, {Name: "terraform_bin"}},
}

// newPool is a pool with every default applied.
func newPool(name string, rng hcl.Range) *Pool {
	return &Pool{
		Name:        name,
		NodePool:    name,
		GPU:         DefaultPoolGPU,
		IdleTimeout: DefaultPoolIdleTimeout,
		BootTimeout: DefaultPoolBootTimeout,
		MinIdle:     DefaultPoolMinIdle,
		DeclRange:   rng,
	}
}

func (l *loader) decodePools(blocks []*hcl.Block) {
	for _, b := range blocks {
		if l.interrupted() {
			return
		}
		name := b.Labels[0]
		if !l.poolBlockInExperiments(b) {
			continue
		}
		if prev := l.cfg.Pools[name]; prev != nil {
			l.add(diagErr(b.LabelRanges[0], "Duplicate pool",
				"A pool named %q is already declared at %s. Pool names must be unique across the directory; remove or rename one.", name, posString(prev.DeclRange)))
			continue
		}
		if !nodePoolNameRe.MatchString(name) {
			l.add(diagErr(b.LabelRanges[0], "Invalid pool name",
				"%q is not a valid pool name: it must also be a valid Nomad node pool name, 1-128 letters, digits, '-' and '_'.", name))
			continue
		}
		p := newPool(name, b.DefRange)
		p.Declared = true
		content, diags := b.Body.Content(poolSchema)
		l.add(diags...)
		for _, pa := range poolAttrs {
			if a := content.Attributes[pa.name]; a != nil {
				pa.decode(l, p, a)
			}
		}
		if a := content.Attributes["max_nodes"]; a != nil && p.MaxNodes < p.MinNodes {
			l.add(diagErr(a.Expr.Range(), "max_nodes below min_nodes",
				"max_nodes (%d) is smaller than min_nodes (%d); raise max_nodes or lower min_nodes.", p.MaxNodes, p.MinNodes))
		}
		if a := content.Attributes["min_idle"]; a != nil && p.IdleTimeout > 0 && p.MinIdle > p.IdleTimeout {
			l.add(diagErr(a.Expr.Range(), "min_idle above idle_timeout",
				"min_idle (%s) is longer than idle_timeout (%s), which is the longest an empty node is kept; lower min_idle, or set it equal to idle_timeout to remove nodes only after idle_timeout.", p.MinIdle, p.IdleTimeout))
		}
		for i, tb := range content.Blocks {
			if i > 0 {
				l.add(diagErr(tb.DefRange, "Duplicate terraform block", "A pool has at most one terraform block; merge them."))
				continue
			}
			if !l.opts.pools {
				l.terraformInExperiments(name, tb)
				continue
			}
			p.Terraform = l.decodePoolTerraform(tb)
			if content.Attributes["max_nodes"] == nil {
				l.add(diagErr(tb.DefRange, "Missing max_nodes",
					"A pool with a terraform block is autoscaled, so it needs max_nodes = N to cap how many machines caravan may create."))
			}
		}
		l.cfg.Pools[name] = p
	}
}

func (l *loader) decodePoolTerraform(b *hcl.Block) *PoolTerraform {
	content, diags := b.Body.Content(poolTerraformSchema)
	l.add(diags...)
	t := &PoolTerraform{}
	if a := content.Attributes["module"]; a != nil {
		if v, ok := l.attrString(a); ok {
			if v == "" {
				l.add(diagErr(a.Expr.Range(), "Empty module", "module must be the directory of a Terraform module, e.g. \"../terraform/aws-gpu-pool\"."))
			} else if !filepath.IsAbs(v) && l.dir != "" {
				v = filepath.Join(l.dir, v)
			}
			t.Module = v
		}
	}
	if a := content.Attributes["terraform_bin"]; a != nil {
		t.Bin, _ = l.attrString(a)
	}
	if a := content.Attributes["vars"]; a != nil {
		if v, ok := l.eval(a.Expr, "vars"); ok {
			ty := v.Type()
			if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
				l.wrongType(a.Expr.Range(), "vars", "an object", v)
			} else {
				t.Vars = v.AsValueMap()
				if _, has := t.Vars["nodes"]; has {
					l.add(diagErr(a.Expr.Range(), "Reserved module variable",
						"vars sets \"nodes\", which caravan itself passes to the module (the set of node names). Remove it from vars."))
					delete(t.Vars, "nodes")
				}
			}
		}
	}
	if t.Vars == nil {
		t.Vars = map[string]cty.Value{}
	}
	return t
}

// addImplicitPools gives every pool an experiment names but no block
// declares an entry with defaults, mapping to the Nomad node pool of the
// same name.
func (l *loader) addImplicitPools() {
	l.checkSpotFallbacks()
	for _, es := range l.exps {
		if p := l.cfg.Pools[es.e.Pool]; p != nil && p.Declared {
			l.checkFits(es.e, p)
			l.checkSpot(es.e, p)
		}
		if name := es.e.Pool; l.cfg.Pools[name] == nil {
			rng := es.e.poolRng
			if rng.Filename == "" {
				rng = es.e.DeclRange
			}
			l.cfg.Pools[name] = newPool(name, rng)
		}
	}
}

// checkFits warns about an experiment that asks one node of its pool for
// more than the pool says a node has: Nomad could never place its runs,
// and the autoscaler will not scale for them.
func (l *loader) checkFits(e *Experiment, p *Pool) {
	r := e.Resources
	var over []string
	if p.GPUsPerNode > 0 && r.GPUs > p.GPUsPerNode {
		over = append(over, fmt.Sprintf("%d GPUs (a node has %d)", r.GPUs, p.GPUsPerNode))
	}
	if p.CPUPerNode > 0 && r.CPU > p.CPUPerNode {
		over = append(over, fmt.Sprintf("%d MHz of CPU (a node has %d)", r.CPU, p.CPUPerNode))
	}
	if p.MemoryPerNode > 0 && r.Memory > p.MemoryPerNode {
		over = append(over, fmt.Sprintf("%d bytes of memory (a node has %d)", r.Memory, p.MemoryPerNode))
	}
	if len(over) == 0 {
		return
	}
	rng := e.poolRng
	if rng.Filename == "" {
		rng = e.DeclRange
	}
	l.add(diagWarn(rng, "Runs cannot fit a node of the pool",
		"Experiment %q asks for %s in pool %q (declared at %s), so Nomad can never place its runs. Lower the request or use a pool with bigger nodes.",
		e.Name, strings.Join(over, " and "), p.Name, posString(p.DeclRange)))
}
