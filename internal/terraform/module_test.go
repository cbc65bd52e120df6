package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestModuleInputs(t *testing.T) {
	dir := t.TempDir()
	tf := `variable "nodes" {
  type = set(string)
}
variable "node_pool" {
  type = string
  validation {
    condition     = length(var.node_pool) > 0
    error_message = "x"
  }
}
variable "servers" {
  type = list(string)
}
variable "spot" {
  default = false
}
variable "key_name" {
  default = null
}
`
	if err := os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	js := `{"variable": {"zone": {"type": "string"}}}`
	if err := os.WriteFile(filepath.Join(dir, "more.tf.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	servers := cty.ListVal([]cty.Value{cty.StringVal("10.0.0.1:4647")})
	zone := cty.StringVal("a")
	tests := []struct {
		name     string
		nodePool string
		given    map[string]cty.Value
		want     map[string]cty.Value
		err      string
	}{
		{"node_pool comes from the pool", "gpu", map[string]cty.Value{"servers": servers, "zone": zone},
			map[string]cty.Value{"servers": servers, "zone": zone, "node_pool": cty.StringVal("gpu"), "spot": cty.False}, ""},
		{"the same node_pool typed twice is accepted", "gpu", map[string]cty.Value{"servers": servers, "zone": zone, "node_pool": cty.StringVal("gpu")},
			map[string]cty.Value{"servers": servers, "zone": zone, "node_pool": cty.StringVal("gpu"), "spot": cty.False}, ""},
		{"another node_pool is refused", "gpu", map[string]cty.Value{"servers": servers, "zone": zone, "node_pool": cty.StringVal("default")},
			nil, `sets node_pool to "default", but the pool's node_pool is "gpu"`},
		{"a required variable unset", "gpu", map[string]cty.Value{"zone": zone}, nil, "needs servers, which have no default"},
		{"a variable the module lacks", "gpu", map[string]cty.Value{"servers": servers, "zone": zone, "instance_type": zone},
			nil, `sets "instance_type", which the module`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := moduleInputs("p", dir, tt.nodePool, false, tt.given)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if !got[k].RawEquals(v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
	// A module without nodes is no pool module.
	bare := t.TempDir()
	if err := os.WriteFile(filepath.Join(bare, "main.tf"), []byte(`variable "x" {}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// spot comes from the pool; terraform.vars may repeat it, not contradict it.
	for _, tc := range []struct {
		pool  bool
		given map[string]cty.Value
		err   string
	}{
		{true, map[string]cty.Value{"servers": servers, "zone": zone}, ""},
		{true, map[string]cty.Value{"servers": servers, "zone": zone, "spot": cty.True}, ""},
		{false, map[string]cty.Value{"servers": servers, "zone": zone, "spot": cty.True}, "the pool's spot is false"},
	} {
		got, err := moduleInputs("p", dir, "gpu", tc.pool, tc.given)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("pool spot %v, vars %v: err %v, want %q", tc.pool, tc.given, err, tc.err)
		case tc.err == "" && (err != nil || !got["spot"].RawEquals(cty.BoolVal(tc.pool))):
			t.Errorf("pool spot %v, vars %v: spot = %#v, err %v", tc.pool, tc.given, got["spot"], err)
		}
	}
	if _, err := moduleInputs("p", bare, "gpu", false, nil); err == nil || !strings.Contains(err.Error(), `declares no variable "nodes"`) {
		t.Errorf("module without nodes: %v", err)
	}
}

// TestShippedModulesTakeNodePool: every pool module shipped here takes
// node_pool, so caravan sets it from the pool.
func TestShippedModulesTakeNodePool(t *testing.T) {
	for _, m := range []string{"test-pool", "local-pool", "aws-gpu-pool", "gcp-gpu-pool"} {
		vars, err := readModuleVars(filepath.Join(modulesDir, m))
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if _, ok := vars[NodePoolVar]; !ok {
			t.Errorf("%s declares no node_pool", m)
		}
	}
}
