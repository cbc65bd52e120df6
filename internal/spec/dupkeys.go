package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// checkDupKeys reports every object literal in expr that sets one key
// twice. HCL keeps the last value without a word, so params = { lr = 0.1,
// lr = 0.01 } or a grid dimension listed twice would silently drop a value
// the user wrote. Keys computed from expressions are not checked: they are
// only known after evaluation.
func (l *loader) checkDupKeys(expr hcl.Expression, what string) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return
	}
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		obj, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		first := make(map[string]hcl.Range, len(obj.Items))
		for _, item := range obj.Items {
			kv, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() || !kv.IsKnown() || kv.IsNull() || kv.Type() != cty.String {
				continue
			}
			k := kv.AsString()
			if prev, dup := first[k]; dup {
				l.add(diagErr(item.KeyExpr.Range(), "Duplicate key",
					"%s sets %q twice (first at line %d, column %d); only the last value would be kept. Remove one of them.", what, k, prev.Start.Line, prev.Start.Column))
				continue
			}
			first[k] = item.KeyExpr.Range()
		}
		return nil
	})
}
