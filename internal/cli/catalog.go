package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/spec"
)

// Where validate, plan, apply, render and run learn what a pool name
// means and what experiments may do: the operator's pool catalogue. An
// experiments directory only names pools; the catalogue comes from the
// pools directory itself (-pools DIR, for offline checks) or from what
// `caravan autoscale POOLSDIR` published in Nomad.

// catalogFlags are -pools and -pools-namespace.
type catalogFlags struct {
	dir       string
	namespace string
}

func addCatalogFlags(fs *flag.FlagSet) *catalogFlags {
	f := &catalogFlags{}
	fs.StringVar(&f.dir, "pools", "", "read the operator's pools and policy from the pools `DIR` instead of the catalogue the autoscaler publishes in Nomad")
	fs.StringVar(&f.namespace, "pools-namespace", "default", "Nomad `namespace` of the published pool catalogue (the autoscaler's -namespace)")
	return f
}

// catalogSubject is the range of diagnostics about the catalogue itself.
var catalogSubject = &hcl.Range{Filename: "<pool catalogue>"}

// load returns the catalogue: from -pools DIR; else from Nomad through vs
// when vs is not nil; else none (nil: every pool an experiment names maps
// to the node pool of that name, under the default policy). A catalogue
// Nomad cannot give is an error when strict (plan, apply and run enforce
// the policy, so they must know it) and a warning otherwise (validate).
func (f *catalogFlags) load(ctx context.Context, env Env, vs autoscale.VariableStore, strict bool) (*spec.Catalog, hcl.Diagnostics) {
	if f.dir != "" {
		return spec.LoadPools(ctx, f.dir, spec.LoadOptions{Env: env.Environ()})
	}
	if vs == nil {
		return nil, nil
	}
	cat, ok, err := autoscale.LoadCatalog(ctx, vs, f.namespace)
	if err != nil {
		sev, what := hcl.DiagWarning, "Without it, validate checked the experiments against the default policy and implicit pools"
		if strict {
			sev, what = hcl.DiagError, "Without it, caravan cannot enforce the operator's policy, so it changes nothing"
		}
		return nil, hcl.Diagnostics{{
			Severity: sev,
			Summary:  "Pool catalogue unavailable",
			Detail: fmt.Sprintf("Reading the pool catalogue %s in namespace %q failed: %v. %s. Give the token read on %s (deploy/acl), set -pools-namespace to the autoscaler's namespace, or pass -pools DIR with the operator's pools directory.",
				autoscale.CatalogVariable, f.namespace, err, what, autoscale.CatalogVariable),
			Subject: catalogSubject,
		}}
	}
	if !ok {
		env.Logger.Debug("no pool catalogue in Nomad; pools are implicit and the default policy applies", "variable", autoscale.CatalogVariable, "namespace", f.namespace)
		return nil, nil
	}
	return cat, nil
}

// useCatalog makes the next load of c check the experiments against cat;
// diags (from reading the catalogue) are reported with the load's own.
func (c *configFlags) useCatalog(cat *spec.Catalog, diags hcl.Diagnostics) {
	c.catalog, c.catalogDiags = cat, diags
}
