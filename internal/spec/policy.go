package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ServiceNodePool is the node pool jobs/caravan-autoscaler.nomad.hcl runs
// in by default: caravan's own services, with the autoscaler's Nomad token
// and cloud credentials.
const ServiceNodePool = "caravan-system"

// Policy is the operator's rule for what experiments may run and where.
// It lives in the pools directory (a policy block beside the pool blocks),
// reaches experiments through the pool catalogue, and validate, plan and
// apply enforce it on every run. Nomad's own namespace settings enforce the
// driver part without caravan (docs/setup.md, "Threat model").
type Policy struct {
	// AllowedDrivers are the task drivers experiments may use; nil allows
	// every driver caravan compiles to.
	AllowedDrivers []string
	// AllowedNodePools are the Nomad node pools experiments may land in;
	// nil allows any.
	AllowedNodePools []string
	// ServiceNodePools are the node pools where caravan's own services and
	// other infrastructure run. raw_exec runs a task unisolated, as the
	// Nomad client's user (root), so it may never land there, nor in the
	// node pool "all", which holds them.
	ServiceNodePools []string
	// Declared is false for DefaultPolicy; DeclRange is the policy block.
	Declared  bool
	DeclRange hcl.Range
}

// DefaultPolicy is the policy of a cluster whose operator declared none:
// every driver and node pool, except raw_exec in the node pools where
// caravan's services run by default (Nomad's "default" pool, where
// clusters set up before ServiceNodePool ran the autoscaler, and
// ServiceNodePool).
func DefaultPolicy() *Policy {
	return &Policy{ServiceNodePools: []string{"default", ServiceNodePool}}
}

// Violation is one way a run breaks a policy.
type Violation struct {
	// Attr is the experiment attribute that made the choice: "driver" or
	// "pool".
	Attr string
	// Summary and Reason describe it for a person.
	Summary, Reason string
}

// Check says how a run with this driver in this node pool breaks the
// policy; none when it is allowed.
func (p *Policy) Check(driver, nodePool string) []Violation {
	var out []Violation
	if p.AllowedDrivers != nil && !slices.Contains(p.AllowedDrivers, driver) {
		out = append(out, Violation{"driver", "Driver not allowed",
			fmt.Sprintf("driver %q is not allowed by the operator policy, which allows %s", driver, listOrNone(p.AllowedDrivers))})
	}
	if p.AllowedNodePools != nil && !slices.Contains(p.AllowedNodePools, nodePool) {
		out = append(out, Violation{"pool", "Node pool not allowed",
			fmt.Sprintf("node pool %q is not allowed by the operator policy, which allows %s", nodePool, listOrNone(p.AllowedNodePools))})
	}
	if driver == "raw_exec" && p.isService(nodePool) {
		what := fmt.Sprintf("node pool %q runs caravan's own services", nodePool)
		if nodePool == "all" {
			what = "node pool \"all\" includes the nodes where caravan's own services run"
		}
		out = append(out, Violation{"driver", "raw_exec in a service node pool",
			fmt.Sprintf("driver raw_exec runs a task unisolated, as root on the host, and %s (service_node_pools: %s): a task there could read their tokens and credentials", what, listOrNone(p.ServiceNodePools))})
	}
	return out
}

func (p *Policy) isService(nodePool string) bool {
	if len(p.ServiceNodePools) == 0 {
		return false
	}
	return nodePool == "all" || slices.Contains(p.ServiceNodePools, nodePool)
}

// Where says where the policy comes from, for messages.
func (p *Policy) Where() string {
	if !p.Declared {
		return "caravan's default policy (no policy block in the pools directory)"
	}
	return "the policy at " + posString(p.DeclRange)
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "allowed_drivers"}, {Name: "allowed_node_pools"}, {Name: "service_node_pools"},
	},
}

// decodePolicy reads the policy block of a pools directory; in an
// experiments directory a policy block is an error, since whoever may
// change experiments must not change what they are allowed.
func (l *loader) decodePolicy(blocks []*hcl.Block) {
	if !l.opts.pools {
		for _, b := range blocks {
			l.add(diagErr(b.DefRange, "Policy in an experiments directory",
				"The policy block says what experiments may run and where, so the people who change experiments must not be able to change it. It belongs in the operator's pools directory, the one `caravan autoscale POOLSDIR` reads; move it there. See docs/setup.md, \"Pools and experiments\"."))
		}
		return
	}
	for i, b := range blocks {
		if i > 0 {
			l.add(diagErr(b.DefRange, "Duplicate policy block",
				"The pools directory has at most one policy block; the first is at %s. Merge them.", posString(blocks[0].DefRange)))
			continue
		}
		content, diags := b.Body.Content(policySchema)
		l.add(diags...)
		p := DefaultPolicy()
		p.Declared, p.DeclRange = true, b.DefRange
		if a := content.Attributes["allowed_drivers"]; a != nil {
			p.AllowedDrivers = l.policyList(a, func(v string) string {
				if drivers[v] {
					return ""
				}
				return fmt.Sprintf("%q is not a driver caravan runs experiments with; use \"docker\", \"exec\" or \"raw_exec\".%s", v, suggest(v, keysOf(drivers)))
			})
		}
		nodePool := func(v string) string {
			if nodePoolNameRe.MatchString(v) {
				return ""
			}
			return fmt.Sprintf("%q is not a valid Nomad node pool name: use 1-128 letters, digits, '-' and '_'.", v)
		}
		if a := content.Attributes["allowed_node_pools"]; a != nil {
			p.AllowedNodePools = l.policyList(a, nodePool)
		}
		if a := content.Attributes["service_node_pools"]; a != nil {
			p.ServiceNodePools = l.policyList(a, nodePool)
		}
		l.cfg.Policy = p
	}
}

// policyList decodes a list of names, each checked by bad (which returns
// why a name is wrong, or ""). The result is never nil for a list that
// was set, so an empty list allows nothing.
func (l *loader) policyList(a *hcl.Attribute, bad func(string) string) []string {
	vs, ok := l.attrStringList(a)
	if !ok {
		return []string{}
	}
	elems := elementRanges(a.Expr, len(vs))
	out := []string{}
	for i, v := range vs {
		if why := bad(v); why != "" {
			l.add(diagErr(elems[i], "Invalid "+a.Name+" entry", "%s", why))
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// warnUnusablePools warns, in a pools directory, about a pool whose node
// pool the policy does not allow: no experiment could ever use it.
func (l *loader) warnUnusablePools() {
	p := l.cfg.Policy
	if !l.opts.pools || p == nil || p.AllowedNodePools == nil {
		return
	}
	for _, name := range keysOf(l.cfg.Pools) {
		pl := l.cfg.Pools[name]
		if np := pl.nodePool(); !slices.Contains(p.AllowedNodePools, np) {
			l.add(diagWarn(pl.DeclRange, "Pool outside allowed_node_pools",
				"Pool %q maps to node pool %q, which allowed_node_pools of %s does not list, so no experiment may use it. Add %q to allowed_node_pools or remove the pool.",
				name, np, p.Where(), np))
		}
	}
}

// enforcePolicy checks every experiment against the policy, pointing at
// the attribute that made each refused choice: driver (or the image that
// implied docker) and pool.
func (l *loader) enforcePolicy() {
	p := l.cfg.Policy
	for _, es := range l.exps {
		e := es.e
		pl := l.cfg.Pools[e.Pool]
		if pl == nil {
			continue
		}
		np := pl.nodePool()
		for _, v := range p.Check(e.Driver, np) {
			at := e.driverRng
			fix := "Use a driver the policy allows, or ask the operator to change the policy in the pools directory."
			if v.Attr == "pool" {
				at = e.poolRng
				fix = "Name a pool whose node pool the policy allows, or ask the operator to allow it."
			}
			if v.Summary == "raw_exec in a service node pool" {
				fix = "Use driver \"docker\" or \"exec\", which isolate the task, or run it in a pool of its own that the operator keeps apart from caravan's services."
			}
			if at.Filename == "" {
				at = e.DeclRange
			}
			l.add(diagErr(at, v.Summary,
				"Experiment %q (pool %q, node pool %q): %s; set by %s. %s",
				e.Name, e.Pool, np, v.Reason, p.Where(), fix))
			es.ok = false
		}
	}
}

// nodePool is the Nomad node pool of a pool: its node_pool, else its name.
func (p *Pool) nodePool() string {
	if p.NodePool != "" {
		return p.NodePool
	}
	return p.Name
}
