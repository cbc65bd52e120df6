package spec

import (
	"context"

	"github.com/hashicorp/hcl/v2"
)

// Catalog is what the operator's pools directory declares for experiments:
// the pools they may name and the policy they must follow. An experiments
// directory only names pools; Load learns what a name means (node pool,
// GPU device, node sizes, price) from the catalogue in
// LoadOptions.Catalog. `caravan autoscale POOLSDIR` publishes it to Nomad
// Variables, and validate, plan and apply read it from there or, offline,
// from the directory itself (-pools DIR).
type Catalog struct {
	// Source says where the catalogue was read, for messages: a directory,
	// or the Nomad variable it was published to.
	Source string
	// Files are the parsed files of a pools directory (nil when read from
	// Nomad), for the snippets of diagnostics that point into them.
	Files map[string]*hcl.File
	// Pools by caravan pool name, each Declared.
	Pools map[string]*Pool
	// Policy is never nil: DefaultPolicy when the directory declares none.
	Policy *Policy
}

// PublishedCatalog is a catalogue read back from where it was published
// rather than from files: its pools and policy point at source in
// messages ("declared at ..."). Every pool is marked Declared.
func PublishedCatalog(source string, pools []*Pool, policy *Policy) *Catalog {
	at := hcl.Range{Filename: source}
	c := &Catalog{Source: source, Pools: make(map[string]*Pool, len(pools)), Policy: policy}
	for _, p := range pools {
		p.Declared, p.DeclRange = true, at
		c.Pools[p.Name] = p
	}
	if c.Policy == nil {
		c.Policy = DefaultPolicy()
	}
	c.Policy.DeclRange = at
	return c
}

// LoadPools reads an operator's pools directory: variable, locals, pool
// (with their terraform blocks) and at most one policy block. Experiments
// and defaults there are errors: they belong in an experiments directory.
// The returned Catalog is never nil.
func LoadPools(ctx context.Context, dir string, opts LoadOptions) (*Catalog, hcl.Diagnostics) {
	opts.pools, opts.Catalog = true, nil
	cfg, diags := Load(ctx, dir, opts)
	return catalogOf(cfg, dir), diags
}

// LoadPoolFiles is LoadPools restricted to the given files of dir.
func LoadPoolFiles(ctx context.Context, dir string, files []string, opts LoadOptions) (*Catalog, hcl.Diagnostics) {
	opts.pools, opts.Catalog = true, nil
	cfg, diags := LoadFiles(ctx, dir, files, opts)
	return catalogOf(cfg, dir), diags
}

func catalogOf(cfg *Config, dir string) *Catalog {
	c := &Catalog{Source: dir, Files: cfg.Files, Pools: cfg.Pools, Policy: cfg.Policy}
	if c.Pools == nil {
		c.Pools = map[string]*Pool{}
	}
	if c.Policy == nil {
		c.Policy = DefaultPolicy()
	}
	return c
}

// rejectInPoolsDir reports experiment and defaults blocks in a pools
// directory.
func (l *loader) rejectInPoolsDir(blocks []*hcl.Block) {
	for _, b := range blocks {
		l.add(diagErr(b.DefRange, "Experiments in the pools directory",
			"The pools directory holds the operator's pool blocks and policy, which `caravan autoscale` runs with its own credentials. A %s block belongs in an experiments directory, which names pools with pool = \"...\"; move it there.", b.Type))
	}
}

// addCatalogPools makes the catalogue's pools known before the
// directory's own pool blocks are decoded.
func (l *loader) addCatalogPools() {
	c := l.opts.Catalog
	if c == nil {
		return
	}
	for name, p := range c.Pools {
		l.cfg.Pools[name] = p
	}
}

// poolBlockInExperiments reports what an experiments directory's pool
// block may not do; ok is false when the block must be skipped. A pool
// block there only maps a name that the catalogue does not know (a cluster
// without autoscaling): its terraform block would run with the
// autoscaler's credentials, and redeclaring an operator's pool would
// change what experiments get behind the operator's back.
func (l *loader) poolBlockInExperiments(b *hcl.Block) (ok bool) {
	if l.opts.pools {
		return true
	}
	name := b.Labels[0]
	if c := l.opts.Catalog; c != nil && c.Pools[name] != nil {
		l.add(diagErr(b.LabelRanges[0], "Pool declared by the operator",
			"Pool %q is declared in the operator's pools (%s, from %s). An experiments directory only names pools; remove this block and keep pool = %q in the experiments.",
			name, posString(c.Pools[name].DeclRange), c.Source, name))
		return false
	}
	return true
}

// terraformInExperiments reports a pool's terraform block in an
// experiments directory.
func (l *loader) terraformInExperiments(pool string, tb *hcl.Block) {
	l.add(diagErr(tb.DefRange, "Pool infrastructure in an experiments directory",
		"Pool %q has a terraform block: `caravan autoscale` would run that module with its own cloud credentials, so whoever can change this directory could run code with them. Pools with a terraform block belong in the operator's pools directory, the one `caravan autoscale POOLSDIR` reads: move the whole pool block there (with the variables it uses), and keep pool = %q in the experiments. See docs/setup.md, \"Pools and experiments\".",
		pool, pool))
}

// policyOf is the policy a load starts with: the catalogue's, else the
// default (a pools directory's own policy block replaces it).
func policyOf(opts LoadOptions) *Policy {
	if opts.Catalog != nil && opts.Catalog.Policy != nil {
		return opts.Catalog.Policy
	}
	return DefaultPolicy()
}
