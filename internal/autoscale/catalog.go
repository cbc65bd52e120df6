package autoscale

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
)

// CatalogVariable is where the autoscaler publishes the operator's pool
// catalogue (every pool of its pools directory, without the terraform
// blocks, and the policy), in the autoscaler's namespace. validate, plan
// and apply of an experiments directory read it to learn what a pool name
// means and what experiments may do; only the autoscaler's token may
// write it (deploy/acl).
const CatalogVariable = "caravan/autoscaler/catalog"

// catalogVersion is the format of the published catalogue; readers refuse
// others.
const catalogVersion = 1

// catalogDoc is the published catalogue. Durations are in seconds and
// sizes in bytes; nil lists in the policy mean "any", empty ones "none".
type catalogDoc struct {
	Version   int           `json:"version"`
	Published time.Time     `json:"published_at"`
	Holder    string        `json:"holder,omitempty"`
	Source    string        `json:"source,omitempty"`
	Pools     []catalogPool `json:"pools"`
	Policy    catalogPolicy `json:"policy"`
}

type catalogPool struct {
	Name          string  `json:"name"`
	NodePool      string  `json:"node_pool"`
	GPU           string  `json:"gpu"`
	GPUsPerNode   int     `json:"gpus_per_node"`
	CPUPerNode    int     `json:"cpu_per_node_mhz"`
	MemoryPerNode int64   `json:"memory_per_node_bytes"`
	MinNodes      int     `json:"min_nodes"`
	MaxNodes      int     `json:"max_nodes"`
	IdleTimeout   float64 `json:"idle_timeout_seconds"`
	MinIdle       float64 `json:"min_idle_seconds"`
	BootTimeout   float64 `json:"boot_timeout_seconds"`
	PricePerHour  float64 `json:"price_per_hour"`
	Autoscaled    bool    `json:"autoscaled"`
	Spot          bool    `json:"spot,omitempty"`
	SpotFallback  string  `json:"spot_fallback,omitempty"`
}

type catalogPolicy struct {
	Declared         bool     `json:"declared"`
	AllowedDrivers   []string `json:"allowed_drivers"`
	AllowedNodePools []string `json:"allowed_node_pools"`
	ServiceNodePools []string `json:"service_node_pools"`
}

// PublishCatalog writes cat to CatalogVariable in namespace ns.
func PublishCatalog(ctx context.Context, s VariableStore, ns string, cat *spec.Catalog, holder string, now time.Time) error {
	doc := catalogDoc{Version: catalogVersion, Published: now.UTC(), Holder: holder, Source: cat.Source, Pools: []catalogPool{}}
	names := make([]string, 0, len(cat.Pools))
	for n := range cat.Pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := cat.Pools[n]
		doc.Pools = append(doc.Pools, catalogPool{
			Name: p.Name, NodePool: p.NodePool, GPU: p.GPU, GPUsPerNode: p.GPUsPerNode, CPUPerNode: p.CPUPerNode,
			MemoryPerNode: p.MemoryPerNode, MinNodes: p.MinNodes, MaxNodes: p.MaxNodes,
			IdleTimeout: p.IdleTimeout.Seconds(), MinIdle: p.MinIdle.Seconds(), BootTimeout: p.BootTimeout.Seconds(),
			PricePerHour: p.PricePerHour, Autoscaled: p.Terraform != nil, Spot: p.Spot, SpotFallback: p.SpotFallback,
		})
	}
	if pol := cat.Policy; pol != nil {
		doc.Policy = catalogPolicy{Declared: pol.Declared, AllowedDrivers: pol.AllowedDrivers,
			AllowedNodePools: pol.AllowedNodePools, ServiceNodePools: pol.ServiceNodePools}
	} else {
		d := spec.DefaultPolicy()
		doc.Policy = catalogPolicy{ServiceNodePools: d.ServiceNodePools}
	}
	_, err := saveJSON(ctx, s, ns, CatalogVariable, doc, nomad.NoCAS)
	return err
}

// LoadCatalog reads the published catalogue from namespace ns; ok is
// false when none was published. Its pools and policy point at the
// variable in messages ("declared at ...").
func LoadCatalog(ctx context.Context, s VariableStore, ns string) (*spec.Catalog, bool, error) {
	var doc catalogDoc
	ok, _, err := loadJSON(ctx, s, ns, CatalogVariable, &doc)
	if err != nil || !ok {
		return nil, ok, err
	}
	if doc.Version != catalogVersion {
		return nil, false, fmt.Errorf("the pool catalogue %s has format version %d, this caravan reads version %d; use the caravan release the autoscaler runs", CatalogVariable, doc.Version, catalogVersion)
	}
	where := fmt.Sprintf("%s in Nomad (published from %s)", CatalogVariable, doc.Source)
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	pools := make([]*spec.Pool, 0, len(doc.Pools))
	for _, p := range doc.Pools {
		if p.Name == "" {
			return nil, false, errors.New("the pool catalogue " + CatalogVariable + " has a pool without a name; let the autoscaler publish it again")
		}
		sp := &spec.Pool{
			Name: p.Name, NodePool: p.NodePool, GPU: p.GPU, GPUsPerNode: p.GPUsPerNode,
			CPUPerNode: p.CPUPerNode, MemoryPerNode: p.MemoryPerNode, MinNodes: p.MinNodes, MaxNodes: p.MaxNodes,
			IdleTimeout: secs(p.IdleTimeout), MinIdle: secs(p.MinIdle), BootTimeout: secs(p.BootTimeout),
			PricePerHour: p.PricePerHour, Spot: p.Spot, SpotFallback: p.SpotFallback,
		}
		if sp.GPU == "" {
			sp.GPU = spec.DefaultPoolGPU
		}
		pools = append(pools, sp)
	}
	cat := spec.PublishedCatalog(where, pools, &spec.Policy{
		AllowedDrivers: doc.Policy.AllowedDrivers, AllowedNodePools: doc.Policy.AllowedNodePools,
		ServiceNodePools: doc.Policy.ServiceNodePools, Declared: doc.Policy.Declared,
	})
	return cat, true, nil
}

// NodePoolMaker creates Nomad node pools. *nomad.Client satisfies it.
type NodePoolMaker interface {
	EnsureNodePool(ctx context.Context, name, description string) error
}

// ensurePublished makes the node pools of the pools this autoscaler
// scales and publishes the catalogue, once per leadership: Nomad refuses
// jobs for a node pool it does not know, and a pool that scales from zero
// has no client to create it by registering. Failures are logged and
// retried at the next leader check.
func (l *Loop) ensurePublished(ctx context.Context) {
	if l.published || (l.cfg.NodePools == nil && l.cfg.Catalog == nil) {
		return
	}
	if l.cfg.DryRun {
		fmt.Fprintf(l.cfg.DryRunOut, "dry run: would create the missing node pools of %v and publish the pool catalogue to %s\n", l.names, CatalogVariable)
		l.published = true
		return
	}
	if l.cfg.NodePools != nil {
		for _, name := range l.names {
			np := l.pools[name].pool.NodePool
			if np == "" {
				np = name
			}
			if err := l.cfg.NodePools.EnsureNodePool(ctx, np, fmt.Sprintf("caravan pool %s, scaled by caravan autoscale", name)); err != nil {
				l.log.Warn("cannot create the node pool of a pool; runs for it are refused by Nomad until it exists", "pool", name, "node_pool", np, "err", err)
				return
			}
		}
	}
	if l.cfg.Catalog != nil {
		if err := PublishCatalog(ctx, l.cfg.Nomad, l.cfg.Namespace, l.cfg.Catalog, l.cfg.Holder, l.cfg.Now()); err != nil {
			l.log.Warn("cannot publish the pool catalogue; validate, plan and apply see the previous one", "variable", CatalogVariable, "err", err)
			return
		}
	}
	l.published = true
	l.log.Info("node pools ready and pool catalogue published", "variable", CatalogVariable, "pools", l.names)
}
