package terraform

import (
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// destroysKept returns the addresses of the resources a plan would destroy
// (delete, or replace) under module.<ModuleName> that belong to a node name
// in keep. Caravan removes a machine only by taking its name out of the
// set, after draining it; a plan that destroys a kept name's resources
// comes from a changed module or var (a new AMI, edited cloud-init) and
// would kill the work running there. Replacing a tainted object is
// allowed, unless its name is registered: it is Terraform finishing a
// creation that failed, which is how a failed apply is retried, and only
// a machine that never joined Nomad can have run nothing. Deposed objects (left by a failed
// create_before_destroy) are no machine of a kept name either.
func destroysKept(p *tfjson.Plan, keep, registered map[string]bool) []string {
	if p == nil {
		return nil
	}
	prefix := "module." + ModuleName
	var out []string
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode || rc.DeposedKey != "" {
			continue
		}
		if rc.ModuleAddress != prefix && !strings.HasPrefix(rc.ModuleAddress, prefix+".") {
			continue
		}
		k, ok := rc.Index.(string)
		if !ok || !keep[k] || !rc.Change.Actions.Delete() && !rc.Change.Actions.Replace() {
			continue
		}
		if rc.ActionReason == tfjson.ActionReasonReplaceBecauseTainted && !registered[k] {
			continue
		}
		a := rc.Address
		if rc.ActionReason != "" {
			a += " (" + string(rc.ActionReason) + ")"
		}
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
