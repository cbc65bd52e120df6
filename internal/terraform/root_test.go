package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/zclconf/go-cty/cty"
)

func TestRenderVars(t *testing.T) {
	tests := []struct {
		name    string
		nodes   []string
		vars    map[string]cty.Value
		want    string
		wantErr string
	}{
		{name: "empty", want: `{"nodes":[]}`},
		{name: "sorted", nodes: []string{"b", "a"}, want: `{"nodes":["a","b"]}`},
		{
			name:  "vars as plain json",
			nodes: []string{"x"},
			vars: map[string]cty.Value{
				"instance_type": cty.StringVal("p4d.24xlarge"),
				"count":         cty.NumberIntVal(3),
				"tags":          cty.ObjectVal(map[string]cty.Value{"team": cty.StringVal("ml")}),
				"zones":         cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
				"plugin_dir":    cty.NullVal(cty.String),
			},
			want: `{"count":3,"instance_type":"p4d.24xlarge","nodes":["x"],"plugin_dir":null,"tags":{"team":"ml"},"zones":["a","b"]}`,
		},
		{name: "nodes reserved", vars: map[string]cty.Value{"nodes": cty.StringVal("x")}, wantErr: "reserved"},
		{name: "unknown", vars: map[string]cty.Value{"x": cty.UnknownVal(cty.String)}, wantErr: "not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := renderVars(tt.nodes, tt.vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(v)
			if string(got) != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRenderRoot(t *testing.T) {
	b, err := renderRoot("../../terraform/test-pool", []string{"node_pool"})
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		Variable map[string]map[string]any
		Module   map[string]map[string]string
	}
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	if root.Variable["nodes"]["type"] != "set(string)" {
		t.Errorf("nodes variable: %v", root.Variable["nodes"])
	}
	if _, ok := root.Variable["node_pool"]; !ok {
		t.Errorf("node_pool variable missing: %v", root.Variable)
	}
	call := root.Module[ModuleName]
	if call["source"] != "../../terraform/test-pool" || call["nodes"] != "${var.nodes}" || call["node_pool"] != "${var.node_pool}" {
		t.Errorf("module call: %v", call)
	}
	if _, err := renderRoot("/abs/module", nil); err == nil {
		t.Error("an absolute source must be refused: Terraform would copy it at init")
	}
}

func TestModuleSource(t *testing.T) {
	tests := []struct{ workdir, module, want string }{
		{"/var/lib/caravan/a100", "/srv/terraform/aws-gpu-pool", "../../../../srv/terraform/aws-gpu-pool"},
		{"/x/state/a100", "/x/state/a100/mod", "./mod"},
	}
	for _, tt := range tests {
		got, err := moduleSource(tt.workdir, tt.module)
		if err != nil || got != tt.want {
			t.Errorf("moduleSource(%q, %q) = %q, %v; want %q", tt.workdir, tt.module, got, err, tt.want)
		}
	}
}

func TestValidVarName(t *testing.T) {
	for name, want := range map[string]bool{"instance_type": true, "a-b": true, "_x": true, "": false, "1a": false, "a.b": false, "a b": false} {
		if got := validVarName(name); got != want {
			t.Errorf("validVarName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNodesInState(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "show-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st tfjson.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	ns := nodesInState(&st)
	got := strings.Join(ns.Nodes, ",")
	// gpu-2 is only in a resource outside module.pool and must not count;
	// data sources and count-indexed resources are not machines either.
	if got != "gpu-0,gpu-1,gpu-3" {
		t.Errorf("nodes = %s, want gpu-0,gpu-1,gpu-3", got)
	}
	if !slices.Equal(ns.Tainted, []string{"gpu-3"}) || !ns.IsTainted("gpu-3") || ns.IsTainted("gpu-1") {
		t.Errorf("tainted = %v, want [gpu-3]", ns.Tainted)
	}
	if addrs := ns.taintedAt["gpu-3"]; len(addrs) != 1 || addrs[0] != `module.pool.module.inner.terraform_data.vm["gpu-3"]` {
		t.Errorf("tainted addresses of gpu-3: %q", addrs)
	}
	if n := nodesInState(&tfjson.State{}).Nodes; len(n) != 0 {
		t.Errorf("empty state gave %v", n)
	}
	if n := nodesInState(nil).Nodes; len(n) != 0 {
		t.Errorf("nil state gave %v", n)
	}
}

func TestCondense(t *testing.T) {
	text := "exit status 1\n\n╷\n│ Error: local-exec provisioner error\n│ \n│   with module.pool.terraform_data.node[\"a\"],\n│   on ../mod/main.tf line 20, in resource \"terraform_data\" \"node\":\n│   20:   provisioner \"local-exec\" {\n│ \n│ Error running command: exit status 1. Output: quota exceeded\n╵\n"
	got := condense(text)
	if !strings.Contains(got, "Error: local-exec provisioner error") || !strings.Contains(got, "quota exceeded") || strings.Contains(got, "│") {
		t.Errorf("condense = %q", got)
	}
	if got := condense("signal: killed"); got != "signal: killed" {
		t.Errorf("condense plain = %q", got)
	}
}

func TestFindBinary(t *testing.T) {
	if _, err := FindBinary("/nonexistent/terraform"); err == nil || !strings.Contains(err.Error(), "terraform_bin") {
		t.Errorf("missing path: err = %v", err)
	}
	if _, err := FindBinary("no-such-terraform-binary"); err == nil || !strings.Contains(err.Error(), "not found on PATH") {
		t.Errorf("missing name: err = %v", err)
	}
	dir := t.TempDir()
	if _, err := FindBinary(dir); err == nil {
		t.Error("a directory is not a binary")
	}
	exe := filepath.Join(dir, "terraform")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindBinary(exe); err != nil || got != exe {
		t.Errorf("FindBinary(%s) = %s, %v", exe, got, err)
	}
	t.Setenv("PATH", dir)
	if got, err := FindBinary(""); err != nil || got != exe {
		t.Errorf("FindBinary on PATH = %s, %v", got, err)
	}
}
