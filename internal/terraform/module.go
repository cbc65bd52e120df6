package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// NodePoolVar is the module input caravan sets to the pool's Nomad node
// pool, when the module declares it, so that the pool's clients register
// where the pool's work waits without the name being typed twice.
const NodePoolVar = "node_pool"

// SpotVar is the module variable caravan sets to the pool's spot
// attribute when the module declares it.
const SpotVar = "spot"

// moduleVars are the input variables a module declares: each name, and
// whether it must be given (it has no default).
type moduleVars map[string]bool

// readModuleVars reads the variable blocks of the module in dir, from its
// *.tf and *.tf.json files (as Terraform does, without its sub-modules).
func readModuleVars(dir string) (moduleVars, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	p := hclparse.NewParser()
	schema := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}}}
	vars := moduleVars{}
	var diags hcl.Diagnostics
	for _, e := range ents {
		name := e.Name()
		var f *hcl.File
		var d hcl.Diagnostics
		switch {
		case e.IsDir():
			continue
		case strings.HasSuffix(name, ".tf"):
			f, d = p.ParseHCLFile(filepath.Join(dir, name))
		case strings.HasSuffix(name, ".tf.json"):
			f, d = p.ParseJSONFile(filepath.Join(dir, name))
		default:
			continue
		}
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		content, _, d := f.Body.PartialContent(schema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			attrs, _, d := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "default"}}})
			diags = append(diags, d...)
			_, hasDefault := attrs.Attributes["default"]
			vars[b.Labels[0]] = !hasDefault
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return vars, nil
}

// moduleInputs checks the pool's vars against what the module declares
// and returns them with node_pool and spot added when the module takes
// them: every variable the module needs is given, none it lacks is, and
// node_pool and spot, if given, are the pool's.
func moduleInputs(pool, module, nodePool string, spot bool, given map[string]cty.Value) (map[string]cty.Value, error) {
	declared, err := readModuleVars(module)
	if err != nil {
		return nil, fmt.Errorf("pool %q: read the variables of the terraform module %s: %w", pool, module, err)
	}
	if _, ok := declared[NodesVar]; !ok {
		return nil, fmt.Errorf("pool %q: the terraform module %s declares no variable %q; a pool module takes the set of node names caravan wants in it (variable \"nodes\" { type = set(string) }) and creates one machine per name", pool, module, NodesVar)
	}
	out := make(map[string]cty.Value, len(given)+1)
	for name, v := range given {
		if _, ok := declared[name]; !ok {
			return nil, fmt.Errorf("pool %q: terraform.vars sets %q, which the module %s does not declare; remove it, or declare it in the module", pool, name, module)
		}
		out[name] = v
	}
	if _, ok := declared[NodePoolVar]; ok && nodePool != "" {
		if v, set := given[NodePoolVar]; set {
			if !v.IsKnown() || v.IsNull() || v.Type() != cty.String || v.AsString() != nodePool {
				return nil, fmt.Errorf("pool %q: terraform.vars sets node_pool to %s, but the pool's node_pool is %q: the machines would register where the pool's work never goes; remove node_pool from terraform.vars, caravan passes the pool's own", pool, show(v), nodePool)
			}
		}
		out[NodePoolVar] = cty.StringVal(nodePool)
	}
	if _, ok := declared[SpotVar]; ok {
		if v, set := given[SpotVar]; set && (!v.IsKnown() || v.IsNull() || v.Type() != cty.Bool || v.True() != spot) {
			return nil, fmt.Errorf("pool %q: terraform.vars sets spot to %s, but the pool's spot is %v: caravan would place runs that cannot resume on machines the cloud takes back, or keep them off cheap ones; remove spot from terraform.vars and set spot in the pool block", pool, v.GoString(), spot)
		}
		out[SpotVar] = cty.BoolVal(spot)
	}
	var missing []string
	for name, required := range declared {
		if _, ok := out[name]; required && !ok && name != NodesVar {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("pool %q: the terraform module %s needs %s, which have no default; set them in the pool's terraform { vars = { ... } }", pool, module, strings.Join(missing, ", "))
	}
	return out, nil
}

func show(v cty.Value) string {
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		return fmt.Sprintf("%q", v.AsString())
	}
	return v.GoString()
}
