package spec

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// rightSizedPools are four pools of 1-, 2-, 4- and 8-GPU machines, as in
// hcl/README.md, plus an 8-GPU pool named explicitly by some cases.
const rightSizedPools = `
pool "a100-1g" {
  gpus_per_node   = 1
  cpu_per_node    = 12000
  memory_per_node = "85GiB"
  price_per_hour  = 4.1
}
pool "a100-2g" {
  gpus_per_node   = 2
  cpu_per_node    = 24000
  memory_per_node = "170GiB"
  price_per_hour  = 8.2
}
pool "a100-4g" {
  gpus_per_node   = 4
  cpu_per_node    = 48000
  memory_per_node = "340GiB"
  price_per_hour  = 16.4
}
pool "a100-8g" {
  gpus_per_node   = 8
  cpu_per_node    = 96000
  memory_per_node = "1TiB"
  price_per_hour  = 32.8
}
pool "h100" {
  gpus_per_node = 8
}
`

func TestPoolsChoice(t *testing.T) {
	all := []string{"a100-1g", "a100-2g", "a100-4g", "a100-8g"}
	tests := []struct {
		name  string
		src   string            // after rightSizedPools
		want  map[string]string // experiment → pool
		cands map[string][]string
	}{
		{
			name: "defaults pools, experiment without pool",
			src: `defaults {
  pools = ["a100-8g", "a100-4g", "a100-2g", "a100-1g"]
}
experiment "one" {
  image = "i"
  resources { gpus = 1 }
}
experiment "three" {
  image = "i"
  resources { gpus = 3 }
}
experiment "eight" {
  image = "i"
  resources { gpus = 8 }
}
experiment "cpu" {
  image = "i"
}`,
			want:  map[string]string{"one": "a100-1g", "three": "a100-4g", "eight": "a100-8g", "cpu": "a100-1g"},
			cands: map[string][]string{"one": {"a100-8g", "a100-4g", "a100-2g", "a100-1g"}},
		},
		{
			name: "memory pushes a 1-GPU run to a bigger node",
			src: `defaults {
  pools = ["a100-1g", "a100-2g", "a100-4g", "a100-8g"]
}
experiment "e" {
  image = "i"
  resources {
    gpus   = 1
    memory = "100GiB"
  }
}`,
			want: map[string]string{"e": "a100-2g"},
		},
		{
			name: "experiment pool overrides defaults pools",
			src: `defaults {
  pools = ["a100-1g", "a100-2g", "a100-4g", "a100-8g"]
}
experiment "e" {
  image = "i"
  pool  = "h100"
  resources { gpus = 1 }
}`,
			want:  map[string]string{"e": "h100"},
			cands: map[string][]string{"e": nil},
		},
		{
			name: "experiment pools overrides defaults pool",
			src: `defaults {
  pool = "h100"
  resources { gpus = 2 }
}
experiment "picked" {
  image = "i"
  pools = ["a100-1g", "a100-2g", "a100-4g", "a100-8g"]
}
experiment "plain" {
  image = "i"
}`,
			want:  map[string]string{"picked": "a100-2g", "plain": "h100"},
			cands: map[string][]string{"picked": all, "plain": nil},
		},
		{
			name: "experiment pools overrides defaults pools",
			src: `defaults {
  pools = ["a100-8g"]
}
experiment "e" {
  image = "i"
  pools = ["a100-1g", "a100-4g"]
  resources { gpus = 1 }
}`,
			want:  map[string]string{"e": "a100-1g"},
			cands: map[string][]string{"e": {"a100-1g", "a100-4g"}},
		},
		{
			name: "pools from a variable",
			src: `variable "pools" {
  default = ["a100-4g", "a100-8g"]
}
experiment "e" {
  image = "i"
  pools = var.pools
  resources { gpus = 1 }
}`,
			want: map[string]string{"e": "a100-4g"},
		},
		{
			name: "no pool anywhere is still Nomad's default pool",
			src: `experiment "e" {
  image = "i"
}`,
			want: map[string]string{"e": "default"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustLoad(t, rightSizedPools+tc.src, LoadOptions{})
			got := map[string]string{}
			for _, e := range cfg.Experiments {
				got[e.Name] = e.Pool
				if want, ok := tc.cands[e.Name]; ok && !reflect.DeepEqual(e.PoolCandidates, want) {
					t.Errorf("%s: PoolCandidates = %q, want %q", e.Name, e.PoolCandidates, want)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pools = %v, want %v", got, tc.want)
			}
			for _, r := range cfg.Runs {
				if cfg.Pools[r.Experiment.Pool] == nil {
					t.Errorf("run of %s: pool %q missing from Config.Pools", r.Experiment.Name, r.Experiment.Pool)
				}
			}
		})
	}
}

// TestPoolsSweep checks that every run of a swept experiment lands in the
// one pool chosen for the experiment: resources cannot depend on params.
func TestPoolsSweep(t *testing.T) {
	cfg := mustLoad(t, rightSizedPools+`
experiment "e" {
  image = "i"
  pools = ["a100-8g", "a100-2g"]
  resources { gpus = 2 }
  sweep {
    grid = { lr = [0.1, 0.01, 0.001] }
  }
}`, LoadOptions{})
	if len(cfg.Runs) != 3 {
		t.Fatalf("runs = %d, want 3", len(cfg.Runs))
	}
	for _, r := range cfg.Runs {
		if r.Experiment.Pool != "a100-2g" {
			t.Errorf("run %d: pool %q, want a100-2g", r.Index, r.Experiment.Pool)
		}
	}
}

// TestPoolsDetails checks what the pools diagnostics say, beyond the
// summary and line that TestDiagnostics checks.
func TestPoolsDetails(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		summary  string
		severity hcl.DiagnosticSeverity
		detail   []string // substrings
	}{
		{
			name: "no fit names experiment, ask and largest node",
			src: `experiment "big" {
  image = "i"
  pools = ["a100-1g", "a100-8g", "a100-4g"]
  resources {
    gpus   = 16
    memory = "64GiB"
  }
}`,
			summary:  "No pool in pools fits the experiment",
			severity: hcl.DiagError,
			detail:   []string{`"big"`, "16 GPUs and 64 GiB of memory", `"a100-8g"`, "8 GPUs, 96000 MHz of CPU and 1 TiB of memory", "Lower the request"},
		},
		{
			name: "no fit from defaults points at the experiment",
			src: `defaults {
  pools = ["a100-1g"]
}
experiment "two" {
  image = "i"
  resources { gpus = 2 }
}`,
			summary:  "No pool in pools fits the experiment",
			severity: hcl.DiagError,
			detail:   []string{`"two"`, "2 GPUs", `"a100-1g", has 1 GPU, 12000 MHz`, "main.hcl:"},
		},
		{
			name:     "unknown pool suggests a name",
			src:      "experiment \"e\" {\n  image = \"i\"\n  pools = [\"a100-1gb\"]\n}",
			summary:  "Unknown pool in pools",
			severity: hcl.DiagError,
			detail:   []string{`"a100-1gb"`, "pool block", `Did you mean "a100-1g"?`},
		},
		{
			name:     "conflict says to keep one",
			src:      "experiment \"e\" {\n  image = \"i\"\n  pools = [\"a100-1g\"]\n  pool = \"h100\"\n}",
			summary:  "Conflicting pool and pools",
			severity: hcl.DiagError,
			detail:   []string{"pools is already set at main.hcl:", "Keep one"},
		},
		{
			name:     "unsized candidate",
			src:      "pool \"any\" {}\nexperiment \"e\" {\n  image = \"i\"\n  pools = [\"any\", \"a100-8g\"]\n  resources { gpus = 1 }\n}",
			summary:  "Pool without gpus_per_node in pools",
			severity: hcl.DiagWarning,
			detail:   []string{`"any"`, "Set gpus_per_node"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(rightSizedPools + tc.src)}, LoadOptions{})
			checkDiagShape(t, diags)
			for _, d := range diags {
				if d.Summary != tc.summary {
					continue
				}
				if d.Severity != tc.severity {
					t.Errorf("severity = %v, want %v", d.Severity, tc.severity)
				}
				for _, s := range tc.detail {
					if !strings.Contains(d.Detail, s) {
						t.Errorf("detail %q lacks %q", d.Detail, s)
					}
				}
				return
			}
			t.Errorf("no %q diagnostic; got %s", tc.summary, diags.Error())
		})
	}
}

// TestPoolsWarningOnce checks that a list in defaults with an unsized pool
// warns once however many GPU experiments inherit it, and that the
// experiments still get their pool.
func TestPoolsWarningOnce(t *testing.T) {
	src := rightSizedPools + `pool "any" {}
defaults {
  pools = ["any", "a100-1g"]
  resources { gpus = 1 }
}
experiment "a" {
  image = "i"
}
experiment "b" {
  image = "i"
}`
	cfg, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("errors: %s", diags.Error())
	}
	if len(diags) != 1 || diags[0].Summary != "Pool without gpus_per_node in pools" {
		t.Errorf("diags = %s, want one warning", diags.Error())
	}
	for _, e := range cfg.Experiments {
		if e.Pool != "a100-1g" {
			t.Errorf("%s: pool %q, want a100-1g", e.Name, e.Pool)
		}
	}
}

// TestRightSizedReadmeExample loads the example of hcl/README.md's
// "Right-sized pools" section, so that the reference and the comments in
// it cannot drift from what Load does.
func TestRightSizedReadmeExample(t *testing.T) {
	doc, err := os.ReadFile("../../hcl/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "### Right-sized pools")
	if !ok {
		t.Fatal("hcl/README.md has no Right-sized pools section")
	}
	_, code, ok := strings.Cut(sec, "```hcl\n")
	if !ok {
		t.Fatal("the Right-sized pools section has no hcl example")
	}
	code, _, _ = strings.Cut(code, "```")
	cfg := mustLoad(t, code, LoadOptions{})
	want := map[string]string{"probe": "a100-1g", "big-batch": "a100-2g", "pretrain": "a100-8g", "eval": "h100"}
	got := map[string]string{}
	for _, e := range cfg.Experiments {
		got[e.Name] = e.Pool
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pools = %v, want %v", got, want)
	}
}
