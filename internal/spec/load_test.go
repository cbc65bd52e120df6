package spec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func mustLoad(t *testing.T, src string, opts LoadOptions) *Config {
	t.Helper()
	cfg, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(src)}, opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %s", diags.Error())
	}
	return cfg
}

func paramString(r Run, name string) string {
	for _, p := range r.Params {
		if p.Name == name {
			s, _ := renderValue(p.Value)
			return s
		}
	}
	return "<missing>"
}

const precedenceSrc = `
variable "lr" {
  type    = number
  default = 0.001
}
variable "region" {
  default = "eu"
}
variable "sizes" {
  type    = list(number)
  default = [1]
}
experiment "e" {
  image   = "img"
  args    = [var.lr, var.region, join(",", var.sizes)]
}
`

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "a.vars")
	f2 := filepath.Join(dir, "b.vars.json")
	os.WriteFile(f1, []byte("lr = 0.1\nregion = \"us\"\nsizes = [2, 3]\n"), 0o644)
	os.WriteFile(f2, []byte(`{"lr": 0.2}`), 0o644)
	env := []string{"CARAVAN_VAR_lr=0.05", "CARAVAN_VAR_region=asia", "CARAVAN_VAR_unknown=1", "PATH=/bin"}
	tests := []struct {
		name string
		opts LoadOptions
		want []string
	}{
		{"defaults", LoadOptions{}, []string{"0.001", "eu", "1"}},
		{"env over default", LoadOptions{Env: env}, []string{"0.05", "asia", "1"}},
		{"var file over env", LoadOptions{Env: env, VarFiles: []string{f1}}, []string{"0.1", "us", "2,3"}},
		{"later var file wins", LoadOptions{Env: env, VarFiles: []string{f1, f2}}, []string{"0.2", "us", "2,3"}},
		{"-var over everything", LoadOptions{Env: env, VarFiles: []string{f1, f2}, Vars: map[string]string{"lr": "0.3", "sizes": "[4, 5]"}}, []string{"0.3", "us", "4,5"}},
		{"-var string needs no quotes", LoadOptions{Vars: map[string]string{"region": "eu-west-1"}}, []string{"0.001", "eu-west-1", "1"}},
		{"-var number literal", LoadOptions{Vars: map[string]string{"lr": "1e-4"}}, []string{"0.0001", "eu", "1"}},
		{"-var number as expression", LoadOptions{Vars: map[string]string{"lr": "2 * 0.25"}}, []string{"0.5", "eu", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustLoad(t, precedenceSrc, tc.opts)
			if got := cfg.Runs[0].Args; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVariableValueErrors(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "x.vars")
	os.WriteFile(vf, []byte("\nnope = 1\n"), 0o644)
	broken := filepath.Join(dir, "broken.vars")
	os.WriteFile(broken, []byte("lr = 0.5\nl = [\n"), 0o644)
	deepJSON := filepath.Join(dir, "deep.json")
	os.WriteFile(deepJSON, []byte(`{"l": `+strings.Repeat("[", 100000)+`"a\\"[["`+"}"), 0o644)
	src := `
variable "lr" {
  type = number
  default = 0.1
  validation {
    condition     = var.lr < 1
    error_message = "lr must be below 1"
  }
}
variable "l" {
  type = list(string)
  default = []
}
`
	tests := []struct {
		name     string
		opts     LoadOptions
		summary  string
		file     string
		line     int
		severity hcl.DiagnosticSeverity
		detail   string
	}{
		{"validation via -var", LoadOptions{Vars: map[string]string{"lr": "5"}}, "Invalid value for variable", "<value for var.lr>", 1, hcl.DiagError, "lr must be below 1"},
		{"validation via env", LoadOptions{Env: []string{"CARAVAN_VAR_lr=2"}}, "Invalid value for variable", "<value for var.lr from CARAVAN_VAR_lr>", 1, hcl.DiagError, "lr must be below 1"},
		{"not a number", LoadOptions{Vars: map[string]string{"lr": "fast"}}, "Invalid value for variable", "<value for var.lr>", 1, hcl.DiagError, "number"},
		{"deep -var", LoadOptions{Vars: map[string]string{"l": strings.Repeat("[", 100000)}}, "Expression too complex", "<value for var.l>", 1, hcl.DiagError, "nested"},
		{"list syntax error", LoadOptions{Vars: map[string]string{"l": "[a"}}, "Unterminated tuple constructor expression", "<value for var.l>", 1, hcl.DiagError, ""},
		{"undeclared -var", LoadOptions{Vars: map[string]string{"lrr": "1"}}, "Value for undeclared variable", "<value for var.lrr>", 1, hcl.DiagError, `Did you mean "lr"?`},
		{"undeclared in var file", LoadOptions{VarFiles: []string{vf}}, "Value for undeclared variable", vf, 2, hcl.DiagWarning, "ignored"},
		{"deep json var file", LoadOptions{VarFiles: []string{deepJSON}}, "Expression too complex", deepJSON, 1, hcl.DiagError, "nested"},
		{"missing var file", LoadOptions{VarFiles: []string{filepath.Join(dir, "none")}}, "Cannot read variables file", filepath.Join(dir, "none"), 1, hcl.DiagError, "Check the path"},
		{"var file syntax error", LoadOptions{VarFiles: []string{broken}}, "Missing expression", broken, 3, hcl.DiagError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := LoadSource("", map[string][]byte{"main.hcl": []byte(src)}, tc.opts)
			checkDiagShape(t, diags)
			for _, d := range diags {
				if d.Summary == tc.summary && d.Subject.Filename == tc.file && d.Subject.Start.Line == tc.line && d.Severity == tc.severity && strings.Contains(d.Detail, tc.detail) {
					// A diagnostic in a variables file is printed with
					// its source line, so the file must be in Files.
					if strings.HasPrefix(tc.file, dir) && tc.summary != "Cannot read variables file" && tc.summary != "Expression too complex" && cfg.Files[tc.file] == nil {
						t.Errorf("%s is not in cfg.Files; its diagnostic would print without the source line", tc.file)
					}
					return
				}
			}
			t.Errorf("want %q at %s:%d, got %v", tc.summary, tc.file, tc.line, diags)
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	files := map[string][]byte{
		"a.hcl": []byte("experiment \"a\" {\n  image = \"x\"\n  priority = 0\n}\n"),
		"b.hcl": []byte("experiment \"b\" {\n  image = \"x\"\n  resources { gpus = -1 }\n  timeout = \"soon\"\n}\n"),
	}
	_, diags := LoadSource("", files, LoadOptions{})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	want := []string{"Priority out of range", "Invalid GPU count", "Invalid duration"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summaries = %q, want %q", got, want)
	}
}

func TestLocals(t *testing.T) {
	cfg := mustLoad(t, `
variable "tag" { default = "1.4" }
locals {
  image = "${local.registry}/train:${var.tag}"
}
locals {
  registry = lower("GHCR.IO/ACME")
  all      = [local.image, local.registry]
}
experiment "e" {
  image = local.image
  tags  = local.all
}
`, LoadOptions{})
	e := cfg.Experiments[0]
	if e.Image != "ghcr.io/acme/train:1.4" || !reflect.DeepEqual(e.Tags, []string{"ghcr.io/acme/train:1.4", "ghcr.io/acme"}) {
		t.Errorf("image %q tags %q", e.Image, e.Tags)
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, `
defaults {
  pool      = "a100"
  priority  = 60
  namespace = "ml"
  image     = "img:1"
  retries   = 3
  timeout   = "2h"
  tags      = ["x"]
  env       = { A = "1", B = "2" }
  resources {
    gpus   = 1
    cpu    = 2000
    memory = "8GiB"
    shm    = "1GiB"
    gpu_model = "A100"
  }
}
experiment "inherits" {}
experiment "overrides" {
  pool     = "h100"
  priority = 90
  image    = "img:2"
  retries  = 0
  env      = { B = "3", C = "4" }
  resources {
    cores = 4
    gpus  = 2
  }
}
experiment "cpu" {
  driver  = "raw_exec"
  command = "make"
  resources { gpus = 0 }
}
`, LoadOptions{})
	byName := map[string]*Experiment{}
	for _, e := range cfg.Experiments {
		byName[e.Name] = e
	}
	in, ov, cpu := byName["inherits"], byName["overrides"], byName["cpu"]
	wantRes := Resources{GPUs: 1, GPUModel: "A100", CPU: 2000, Memory: 8 << 30, SHM: 1 << 30}
	if in.Pool != "a100" || in.Priority != 60 || in.Namespace != "ml" || in.Image != "img:1" || in.Driver != "docker" ||
		in.Retries != 3 || in.Timeout != 2*time.Hour || !reflect.DeepEqual(in.Tags, []string{"x"}) || in.Resources != wantRes {
		t.Errorf("inherits = %+v", *in)
	}
	if ov.Pool != "h100" || ov.Priority != 90 || ov.Image != "img:2" || ov.Retries != 0 ||
		ov.Resources.Cores != 4 || ov.Resources.CPU != 0 || ov.Resources.GPUs != 2 || ov.Resources.Memory != 8<<30 {
		t.Errorf("overrides = %+v", *ov)
	}
	if cpu.Image != "" || cpu.Driver != "raw_exec" || cpu.Resources.SHM != 0 || cpu.Resources.GPUModel != "" {
		t.Errorf("cpu = %+v", *cpu)
	}
	envs := map[string]map[string]string{}
	for _, r := range cfg.Runs {
		envs[r.Experiment.Name] = r.Env
	}
	if want := map[string]string{"A": "1", "B": "3", "C": "4"}; !reflect.DeepEqual(envs["overrides"], want) {
		t.Errorf("env = %v, want %v", envs["overrides"], want)
	}
	if want := map[string]string{"A": "1", "B": "2"}; !reflect.DeepEqual(envs["inherits"], want) {
		t.Errorf("env = %v, want %v", envs["inherits"], want)
	}
	if p := cfg.Pools["h100"]; p == nil || p.Declared || p.NodePool != "h100" || p.IdleTimeout != 10*time.Minute || p.BootTimeout != 15*time.Minute || p.GPU != "nvidia/gpu" {
		t.Errorf("implicit pool = %+v", p)
	}
}

func TestExperimentDefaultsWithoutDefaultsBlock(t *testing.T) {
	cfg := mustLoad(t, "experiment \"e\" {\n  command = \"true\"\n}\n", LoadOptions{})
	e := cfg.Experiments[0]
	if e.Pool != "default" || e.Priority != 50 || e.Driver != "exec" || e.RunCount != 1 || len(cfg.Runs) != 1 {
		t.Errorf("e = %+v, runs %d", *e, len(cfg.Runs))
	}
	if cfg.Pools["default"] == nil {
		t.Errorf("no implicit default pool")
	}
}

func TestPoolDecoding(t *testing.T) {
	cfg := mustLoad(t, `
variable "subnet" { default = "s-1" }
pool "a100" {
  node_pool       = "gpu-a100"
  gpu             = "nvidia/gpu-a100"
  gpus_per_node   = 8
  cpu_per_node    = 96000
  memory_per_node = "1TiB"
  min_nodes       = 1
  max_nodes       = 16
  idle_timeout    = "5m"
  boot_timeout    = "20m"
  price_per_hour  = 32.77
  terraform {
    module        = "../tf/aws"
    vars          = { instance_type = "p4d.24xlarge", subnet_id = var.subnet }
    terraform_bin = "/usr/bin/terraform"
  }
}
`, LoadOptions{pools: true})
	p := cfg.Pools["a100"]
	want := Pool{Name: "a100", NodePool: "gpu-a100", Declared: true, GPU: "nvidia/gpu-a100", GPUsPerNode: 8, CPUPerNode: 96000,
		MemoryPerNode: 1 << 40, MinNodes: 1, MaxNodes: 16, IdleTimeout: 5 * time.Minute, BootTimeout: 20 * time.Minute, MinIdle: time.Minute, PricePerHour: 32.77}
	got := *p
	got.Terraform, got.DeclRange = nil, hcl.Range{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pool = %+v\nwant   %+v", got, want)
	}
	tf := p.Terraform
	if tf.Module != "../tf/aws" || tf.Bin != "/usr/bin/terraform" || tf.Vars["subnet_id"].AsString() != "s-1" || tf.Vars["instance_type"].AsString() != "p4d.24xlarge" {
		t.Errorf("terraform = %+v", tf)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"512MiB", 512 << 20, false},
		{"40GiB", 40 << 30, false},
		{"1.5TB", 1_500_000_000_000, false},
		{"1TiB", 1 << 40, false},
		{"16gib", 16 << 30, false},
		{"100", 100, false},
		{"1 GB", 1_000_000_000, false},
		{"0.5KiB", 512, false},
		{"1.0001B", 1, false},
		{"8EiB", 0, true},
		{"9000PiB", 0, true},
		{"-1GiB", 0, true},
		{"GiB", 0, true},
		{"1.2.3GB", 0, true},
		{"", 0, true},
		{"12XB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte("experiment \"b\" {\n  image = \"x\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("experiment \"a\" {\n  image = \"x\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not hcl"), 0o644)
	cfg, diags := Load(context.Background(), dir, LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(cfg.Experiments) != 2 || cfg.Experiments[0].Name != "a" || len(cfg.Files) != 2 {
		t.Errorf("experiments %v files %d", cfg.Experiments, len(cfg.Files))
	}
	if cfg.Experiments[0].DeclRange.Filename != filepath.Join(dir, "a.hcl") {
		t.Errorf("filename = %q", cfg.Experiments[0].DeclRange.Filename)
	}
	cfg, diags = LoadFiles(context.Background(), dir, []string{"b.hcl"}, LoadOptions{})
	if diags.HasErrors() || len(cfg.Experiments) != 1 || cfg.Experiments[0].Name != "b" {
		t.Errorf("LoadFiles: %v %v", diags, cfg.Experiments)
	}
	_, diags = Load(context.Background(), t.TempDir(), LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "No configuration files" {
		t.Errorf("empty dir: %v", diags)
	}
	_, diags = Load(context.Background(), filepath.Join(dir, "missing"), LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "Cannot read configuration directory" {
		t.Errorf("missing dir: %v", diags)
	}
}

func TestHugeInputs(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	cfg := mustLoad(t, "experiment \"e\" {\n  image = \"img\"\n  description = \""+big+"\"\n  args = [\"${param.s}\"]\n  params = { s = \""+big[:1<<16]+"\" }\n}\n", LoadOptions{})
	if len(cfg.Experiments[0].Description) != len(big) || len(cfg.Runs[0].Args[0]) != 1<<16 {
		t.Errorf("huge strings were not kept intact")
	}
	_, diags := LoadSource("", map[string][]byte{"big.hcl": []byte("# " + strings.Repeat("y", maxFileBytes))}, LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "Configuration file too large" {
		t.Errorf("diags = %v", diags)
	}
	_, diags = LoadSource("", map[string][]byte{"empty.hcl": nil}, LoadOptions{})
	if len(diags) != 0 {
		t.Errorf("an empty file is a valid, empty configuration; got %v", diags)
	}
}

func TestDefaultsMistakeReportedOnce(t *testing.T) {
	_, diags := LoadSource("", map[string][]byte{"m.hcl": []byte(`
defaults {
  driver = "docker"
}
experiment "a" {}
experiment "b" {}
`)}, LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "Missing image" {
		t.Errorf("diags = %v", diags)
	}
}
