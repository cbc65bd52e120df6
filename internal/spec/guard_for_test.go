package spec

import (
	"fmt"
	"strings"
	"testing"
)

// TestForExpressionBudget: nested for expressions whose product of
// lengths is far beyond maxForIterations are refused with a diagnostic
// instead of being evaluated (three nested range(1000) would need tens of
// GB); ordinary ones, and for expressions in variable defaults, still work.
func TestForExpressionBudget(t *testing.T) {
	tests := []struct {
		name, src string
		wantErr   bool
	}{
		{"nested in a local", `locals {
  a = [for x in range(100) : [for y in range(100) : [for z in range(100) : 1]]]
}`, true},
		{"filtered out", `locals {
  a = [for x in range(100) : [for y in range(100) : [for z in range(100) : 1 if false]]]
}`, true},
		{"in an experiment", `experiment "e" {
  image = "img"
  args  = flatten([for x in range(100) : [for y in range(100) : [for z in range(100) : "a"]]])
}`, true},
		{"ordinary", `locals {
  a = [for x in range(100) : [for y in range(100) : x * y]]
}
variable "v" {
  default = [for x in [1, 2] : x * 2]
}
experiment "e" {
  image  = "img"
  args   = [for x in local.a[1] : tostring(x + var.v[0])]
  params = { n = 1 }
  env    = { for k in ["A", "B"] : k => "${param.n}" }
}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(tt.src)}, LoadOptions{})
			got := strings.Contains(diags.Error(), fmt.Sprintf("more than %d elements", maxForIterations))
			if got != tt.wantErr || (!tt.wantErr && diags.HasErrors()) {
				t.Errorf("diags: %v; want budget error %v", diags, tt.wantErr)
			}
		})
	}
}
