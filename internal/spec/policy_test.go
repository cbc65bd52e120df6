package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// poolsSource loads an operator's pools directory from source.
func poolsSource(t *testing.T, src string) *Catalog {
	t.Helper()
	cfg, diags := LoadSource("pools", map[string][]byte{"pools/pools.hcl": []byte(src)}, LoadOptions{pools: true})
	if diags.HasErrors() {
		t.Fatalf("pools directory: %s", diags.Error())
	}
	return catalogOf(cfg, "pools")
}

const operatorPools = `
pool "a100" {
  node_pool     = "gpu-a100"
  gpus_per_node = 8
  max_nodes     = 4
  terraform {
    module = "../terraform/test-pool"
  }
}
pool "small" {
  node_pool     = "gpu-small"
  gpus_per_node = 1
}
policy {
  allowed_drivers    = ["docker", "exec"]
  allowed_node_pools = ["gpu-a100", "gpu-small"]
}
`

// TestTrustBoundaryDiagnostics: what an experiments directory may not do
// (declare infrastructure or policy, redeclare an operator's pool, break
// the policy) and what a pools directory may not hold. Each diagnostic
// points at the line marked #< and says how to fix it.
func TestTrustBoundaryDiagnostics(t *testing.T) {
	cat := poolsSource(t, operatorPools)
	withCat := LoadOptions{Catalog: cat}
	tests := []struct {
		name, src string
		opts      LoadOptions
		summary   string
		detail    string
	}{
		{"terraform next to experiments", "pool \"gpu\" {\n  max_nodes = 2\n  terraform { #<\n    module = \"/tmp/evil\"\n  }\n}\n",
			LoadOptions{}, "Pool infrastructure in an experiments directory", "caravan autoscale POOLSDIR"},
		{"policy next to experiments", "policy { #<\n  allowed_drivers = [\"raw_exec\"]\n}\n",
			LoadOptions{}, "Policy in an experiments directory", "pools directory"},
		{"operator's pool redeclared", "pool \"a100\" { #<\n  node_pool = \"default\"\n}\n",
			withCat, "Pool declared by the operator", "pools/pools.hcl:2"},
		{"driver outside the policy", "experiment \"e\" {\n  pool    = \"a100\"\n  driver  = \"raw_exec\" #<\n  command = \"sh\"\n}\n",
			withCat, "Driver not allowed", `driver "raw_exec" is not allowed`},
		{"driver from defaults", "defaults {\n  driver = \"raw_exec\" #<\n}\nexperiment \"e\" {\n  pool    = \"a100\"\n  command = \"sh\"\n}\n",
			withCat, "Driver not allowed", "the policy at pools/pools.hcl:14"},
		{"exec implied", "experiment \"e\" { #<\n  pool    = \"a100\"\n  command = \"sh\"\n}\n",
			LoadOptions{Catalog: &Catalog{Pools: cat.Pools, Policy: &Policy{AllowedDrivers: []string{"docker"}, Declared: true}}}, "Driver not allowed", `driver "exec"`},
		{"node pool outside the policy", "experiment \"e\" {\n  pool    = \"cpu\" #<\n  image   = \"img\"\n}\n",
			withCat, "Node pool not allowed", `node pool "cpu" is not allowed`},
		{"raw_exec in default by default", "experiment \"e\" {\n  driver  = \"raw_exec\" #<\n  command = \"sh\"\n}\n",
			LoadOptions{}, "raw_exec in a service node pool", "caravan's default policy"},
		{"raw_exec in the service pool", "experiment \"e\" {\n  pool    = \"caravan-system\"\n  driver  = \"raw_exec\" #<\n  command = \"sh\"\n}\n",
			LoadOptions{}, "raw_exec in a service node pool", "root on the host"},
		{"raw_exec in all", "pool \"anywhere\" {\n  node_pool = \"all\"\n}\nexperiment \"e\" {\n  pool    = \"anywhere\"\n  driver  = \"raw_exec\" #<\n  command = \"sh\"\n}\n",
			LoadOptions{}, "raw_exec in a service node pool", `node pool "all" includes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(tt.src)}, tt.opts)
			checkDiagShape(t, diags)
			line := markLine(t, tt.src)
			for _, d := range diags {
				if d.Summary == tt.summary && d.Severity == hcl.DiagError && d.Subject.Filename == "main.hcl" && d.Subject.Start.Line == line {
					if !strings.Contains(d.Detail, tt.detail) {
						t.Errorf("detail %q does not mention %q", d.Detail, tt.detail)
					}
					return
				}
			}
			t.Errorf("want error %q at main.hcl:%d; got:", tt.summary, line)
			for _, d := range diags {
				t.Logf("  %s: %s | %s", d.Subject, d.Summary, d.Detail)
			}
		})
	}
}

// TestPoolsDirectoryDiagnostics: a pools directory holds pools and one
// policy, nothing else, and its policy names real drivers and node pools.
func TestPoolsDirectoryDiagnostics(t *testing.T) {
	tests := []struct {
		name, src, summary string
		warning            bool
	}{
		{"experiment", "experiment \"e\" { #<\n  image = \"img\"\n}\n", "Experiments in the pools directory", false},
		{"defaults", "defaults { #<\n  pool = \"a\"\n}\n", "Experiments in the pools directory", false},
		{"two policies", "policy {}\npolicy { #<\n}\n", "Duplicate policy block", false},
		{"unknown driver", "policy {\n  allowed_drivers = [\"docker\", \"qemu\"] #<\n}\n", "Invalid allowed_drivers entry", false},
		{"bad node pool", "policy {\n  service_node_pools = [\"a b\"] #<\n}\n", "Invalid service_node_pools entry", false},
		{"unknown attribute", "policy {\n  allow_everything = true #<\n}\n", "Unsupported argument", false},
		{"pool nobody may use", "pool \"p\" { #<\n  node_pool = \"gpu-p\"\n}\npolicy {\n  allowed_node_pools = [\"gpu-q\"]\n}\n", "Pool outside allowed_node_pools", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(tt.src)}, LoadOptions{pools: true})
			checkDiagShape(t, diags)
			line := markLine(t, tt.src)
			for _, d := range diags {
				if d.Summary == tt.summary && d.Subject.Start.Line == line && (d.Severity == hcl.DiagWarning) == tt.warning {
					return
				}
			}
			t.Errorf("want %q at line %d; got:", tt.summary, line)
			for _, d := range diags {
				t.Logf("  %s: %s | %s", d.Subject, d.Summary, d.Detail)
			}
		})
	}
}

// TestCatalogNamesPools: experiments name the operator's pools and get
// their node pool, sizes and price; right-sizing compares the catalogue's
// node sizes; runs the policy allows load without a diagnostic.
func TestCatalogNamesPools(t *testing.T) {
	cat := poolsSource(t, operatorPools)
	if cat.Pools["a100"].Terraform == nil || cat.Policy.AllowedDrivers == nil || !cat.Policy.Declared {
		t.Fatalf("catalogue = %+v, policy %+v", cat.Pools, cat.Policy)
	}
	cfg := mustLoad(t, `
experiment "big" {
  pool  = "a100"
  image = "img"
  resources { gpus = 8 }
}
experiment "probe" {
  pools   = ["a100", "small"]
  command = "python"
  resources { gpus = 1 }
}
`, LoadOptions{Catalog: cat})
	if p := cfg.Pools["a100"]; p.NodePool != "gpu-a100" || p.GPUsPerNode != 8 {
		t.Errorf("a100 = %+v", p)
	}
	if e := cfg.Experiments[1]; e.Pool != "small" || !slices.Equal(e.PoolCandidates, []string{"a100", "small"}) {
		t.Errorf("probe chose %q from %v", e.Pool, e.PoolCandidates)
	}
	if cfg.Policy != cat.Policy {
		t.Error("the experiments were not checked against the catalogue's policy")
	}
}

// TestDefaultPolicyKeepsRawExecWhereNothingElseRuns: without a policy,
// raw_exec stays allowed in node pools of its own (the e2e suite's gpu
// pool, the examples' cpu pool), and an operator who empties
// service_node_pools allows it everywhere.
func TestDefaultPolicyKeepsRawExecWhereNothingElseRuns(t *testing.T) {
	mustLoad(t, "experiment \"e\" {\n  pool    = \"gpu\"\n  driver  = \"raw_exec\"\n  command = \"sh\"\n}\n", LoadOptions{})
	mustLoad(t, "experiment \"e\" {\n  driver  = \"exec\"\n  command = \"sh\"\n}\n", LoadOptions{})
	open := &Catalog{Pools: map[string]*Pool{}, Policy: &Policy{ServiceNodePools: []string{}, Declared: true}}
	mustLoad(t, "experiment \"e\" {\n  driver  = \"raw_exec\"\n  command = \"sh\"\n}\n", LoadOptions{Catalog: open})
}

func TestPolicyCheck(t *testing.T) {
	p := &Policy{AllowedDrivers: []string{"docker", "raw_exec"}, AllowedNodePools: []string{"gpu", "default"}, ServiceNodePools: []string{"default"}}
	tests := []struct {
		driver, pool string
		want         []string
	}{
		{"docker", "gpu", nil},
		{"raw_exec", "gpu", nil},
		{"exec", "gpu", []string{"driver"}},
		{"docker", "cpu", []string{"pool"}},
		{"raw_exec", "default", []string{"driver"}},
		{"raw_exec", "all", []string{"pool", "driver"}},
		{"exec", "cpu", []string{"driver", "pool"}},
	}
	for _, tt := range tests {
		var got []string
		for _, v := range p.Check(tt.driver, tt.pool) {
			got = append(got, v.Attr)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Check(%s, %s) = %v, want %v", tt.driver, tt.pool, got, tt.want)
		}
	}
}
