package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// diagCase is one configuration that must produce a diagnostic. The line
// that diagnostic points at is marked with "#<" in the source (in the file
// named by markFile, default main.hcl).
type diagCase struct {
	name     string
	files    map[string]string
	opts     LoadOptions
	summary  string
	markFile string
	severity hcl.DiagnosticSeverity
}

func one(src string) map[string]string { return map[string]string{"main.hcl": src} }

// exp wraps attributes into a valid docker experiment.
func exp(body string) map[string]string {
	return one("experiment \"e\" {\n  image = \"img\"\n" + body + "\n}\n")
}

var diagCases = []diagCase{
	// structure
	{name: "unknown block", files: one("foo {} #<\n"), summary: "Unsupported block type"},
	{name: "top-level attribute", files: one("x = 1 #<\n"), summary: "Unsupported argument"},
	{name: "unknown experiment attribute", files: exp("  bogus = 1 #<"), summary: "Unsupported argument"},
	{name: "unknown resources attribute", files: exp("  resources {\n    vram = 1 #<\n  }"), summary: "Unsupported argument"},
	{name: "unknown nested block", files: exp("  sweep {\n    mesh { #<\n    }\n  }"), summary: "Unsupported block type"},
	{name: "missing required git", files: exp("  source { commit = \"abcdef1\" } #<"), summary: "Missing required argument"},
	{name: "missing experiment label", files: one("experiment { #<\n}\n"), summary: "Missing name for experiment"},
	{name: "template in block label", files: one("experiment \"${var.x}\" { #<\n}\n"), summary: "Invalid string literal"},
	{name: "duplicate experiment across files", files: map[string]string{
		"a.hcl": "experiment \"e\" {\n  image = \"x\"\n}\n",
		"b.hcl": "\nexperiment \"e\" { #<\n  image = \"y\"\n}\n",
	}, markFile: "b.hcl", summary: "Duplicate experiment"},
	{name: "duplicate defaults", files: one("defaults {}\ndefaults {} #<\n"), summary: "Duplicate defaults block"},
	{name: "duplicate pool", files: one("pool \"a\" {}\npool \"a\" {} #<\n"), summary: "Duplicate pool"},
	{name: "duplicate variable", files: one("variable \"a\" { default = 1 }\nvariable \"a\" { default = 2 } #<\n"), summary: "Duplicate variable declaration"},
	{name: "duplicate source block", files: exp("  source {\n    git = \"g\"\n    commit = \"abcdef1\"\n  }\n  source { #<\n    git = \"g\"\n    commit = \"abcdef1\"\n  }"), summary: "Duplicate source block"},
	{name: "duplicate attribute", files: exp("  priority = 1\n  priority = 2 #<"), summary: "Attribute redefined"},
	{name: "duplicate param key", files: exp("  params = {\n    lr = 1\n    lr = 2 #<\n  }"), summary: "Duplicate key"},
	{name: "duplicate grid key", files: exp("  sweep {\n    grid = {\n      lr = [1]\n      lr = [2] #<\n    }\n  }"), summary: "Duplicate key"},
	{name: "duplicate env key", files: exp("  env = {\n    A = \"1\"\n    \"A\" = \"2\" #<\n  }"), summary: "Duplicate key"},
	{name: "duplicate key in a local", files: one("locals {\n  m = {\n    a = 1\n    a = 2 #<\n  }\n}\n"), summary: "Duplicate key"},
	{name: "invalid experiment name", files: one("experiment \"a b\" { #<\n  image = \"x\"\n}\n"), summary: "Invalid experiment name"},

	// types and values
	{name: "wrong type priority", files: exp("  priority = \"high\" #<"), summary: "Incorrect attribute value type"},
	{name: "wrong type tags", files: exp("  tags = \"vision\" #<"), summary: "Incorrect attribute value type"},
	{name: "wrong type args", files: exp("  args = [[\"a\"]] #<"), summary: "Invalid value"},
	{name: "priority zero", files: exp("  priority = 0 #<"), summary: "Priority out of range"},
	{name: "priority 101", files: exp("  priority = 101 #<"), summary: "Priority out of range"},
	{name: "priority fraction", files: exp("  priority = 1.5 #<"), summary: "Invalid value"},
	{name: "negative gpus", files: exp("  resources {\n    gpus = -1 #<\n  }"), summary: "Invalid GPU count"},
	{name: "negative retries", files: exp("  retries = -1 #<"), summary: "Invalid retries"},
	{name: "negative rerun", files: exp("  rerun = -1 #<"), summary: "Invalid rerun"},
	{name: "zero cpu", files: exp("  resources {\n    cpu = 0 #<\n  }"), summary: "Invalid cpu"},
	{name: "malformed size unit", files: exp("  resources {\n    memory = \"12XB\" #<\n  }"), summary: "Invalid size"},
	{name: "size without unit", files: exp("  resources {\n    memory = \"1024\" #<\n  }"), summary: "Invalid size"},
	{name: "size as number", files: exp("  resources {\n    disk = 1024 #<\n  }"), summary: "Invalid size"},
	{name: "malformed gpu_memory", files: exp("  resources {\n    gpus = 1\n    gpu_memory = \"lots\" #<\n  }"), summary: "Invalid size"},
	{name: "duration in days", files: exp("  timeout = \"1d\" #<"), summary: "Invalid duration"},
	{name: "negative duration", files: exp("  timeout = \"-5m\" #<"), summary: "Invalid duration"},
	{name: "cpu and cores", files: exp("  resources {\n    cpu = 1000\n    cores = 2 #<\n  }"), summary: "Conflicting cpu and cores"},
	{name: "gpu model without gpus", files: exp("  resources {\n    gpu_model = \"H100\" #<\n  }"), summary: "GPU constraint without GPUs"},
	{name: "invalid namespace", files: exp("  namespace = \"ml team\" #<"), summary: "Invalid namespace"},
	{name: "empty image", files: one("experiment \"e\" {\n  image = \"\" #<\n}\n"), summary: "Empty image"},

	// source
	{name: "git without commit", files: exp("  source { #<\n    git = \"https://x/y.git\"\n  }"), summary: "Missing commit"},
	{name: "credentials in git URL", files: exp("  source {\n    git = \"https://bot:tok3n@x/y.git\" #<\n    commit = \"abcdef1\"\n  }"), summary: "Credentials in the git URL"},
	{name: "user in https git URL", files: exp("  source {\n    git = \"https://ghp_secret@x/y.git\" #<\n    commit = \"abcdef1\"\n  }"), summary: "Credentials in the git URL"},
	{name: "interpolation in git URL", files: exp("  source {\n    git = \"https://x/$${node.unique.name}.git\" #<\n    commit = \"abcdef1\"\n  }"), summary: "Invalid git URL"},
	{name: "query in git URL", files: exp("  source {\n    git = \"https://x/y.git?ref=main\" #<\n    commit = \"abcdef1\"\n  }"), summary: "Invalid git URL"},
	{name: "interpolation in source path", files: exp("  source {\n    git = \"https://x/y.git\"\n    commit = \"abcdef1\"\n    path = \"$${NOMAD_TASK_DIR}\" #<\n  }"), summary: "Invalid source path"},
	{name: "unknown image_pinning", files: exp("  image_pinning = \"pinned\" #<"), summary: "Invalid image_pinning"},
	{name: "tag under require-digest", files: one("experiment \"e\" {\n  image = \"ghcr.io/a/b:1\" #<\n  image_pinning = \"require-digest\"\n}\n"), summary: "Image not pinned to a digest"},
	{name: "tag under require-digest from defaults", files: one("defaults {\n  image_pinning = \"require-digest\"\n}\nexperiment \"e\" {\n  image = \"ghcr.io/a/b:1\" #<\n}\n"), summary: "Image not pinned to a digest"},
	{name: "branch as commit", files: exp("  source {\n    git = \"https://x/y.git\"\n    commit = \"main\" #<\n  }"), summary: "Invalid commit"},
	{name: "short commit", files: exp("  source {\n    git = \"https://x/y.git\"\n    commit = \"abc12\" #<\n  }"), summary: "Invalid commit"},
	{name: "long commit", files: exp("  source {\n    git = \"https://x/y.git\"\n    commit = \"" + strings.Repeat("a", 41) + "\" #<\n  }"), summary: "Invalid commit"},
	{name: "source path escapes", files: exp("  source {\n    git = \"g\"\n    commit = \"abcdef1\"\n    path = \"../x\" #<\n  }"), summary: "Invalid source path"},

	// drivers
	{name: "unknown driver", files: exp("  driver = \"podman\" #<"), summary: "Unsupported driver"},
	{name: "image with exec", files: one("experiment \"e\" {\n  image = \"img\" #<\n  driver = \"exec\"\n  command = \"x\"\n}\n"), summary: "Image needs the docker driver"},
	{name: "docker without image", files: one("experiment \"e\" {\n  driver = \"docker\" #<\n}\n"), summary: "Missing image"},
	{name: "exec without command", files: one("experiment \"e\" {\n  driver = \"raw_exec\" #<\n}\n"), summary: "Missing command"},
	{name: "shm with raw_exec", files: one("experiment \"e\" {\n  driver = \"raw_exec\"\n  command = \"x\"\n  resources {\n    shm = \"1GiB\" #<\n  }\n}\n"), summary: "shm needs the docker driver"},

	// pools
	{name: "invalid pool attribute", files: exp("  pool = \"a/b\" #<"), summary: "Invalid pool name"},
	{name: "invalid pool label", files: one("pool \"gpu pool\" { #<\n}\n"), summary: "Invalid pool name"},
	{name: "invalid node_pool", files: one("pool \"a\" {\n  node_pool = \"x.y\" #<\n}\n"), summary: "Invalid node pool name"},
	{name: "node_pool too long", files: one("pool \"a\" {\n  node_pool = \"" + strings.Repeat("x", 129) + "\" #<\n}\n"), summary: "Invalid node pool name"},
	{name: "unknown pool attribute", files: one("pool \"a\" {\n  gpus = 8 #<\n}\n"), summary: "Unsupported argument"},
	{name: "max below min", files: one("pool \"a\" {\n  min_nodes = 3\n  max_nodes = 1 #<\n}\n"), summary: "max_nodes below min_nodes"},
	{name: "terraform without max_nodes", files: one("pool \"a\" {\n  terraform { #<\n    module = \"m\"\n  }\n}\n"), summary: "Missing max_nodes", opts: LoadOptions{pools: true}},
	{name: "terraform without module", files: one("pool \"a\" {\n  max_nodes = 2\n  terraform { #<\n  }\n}\n"), summary: "Missing required argument", opts: LoadOptions{pools: true}},
	{name: "terraform vars sets nodes", files: one("pool \"a\" {\n  max_nodes = 2\n  terraform {\n    module = \"m\"\n    vars = { nodes = [] } #<\n  }\n}\n"), summary: "Reserved module variable", opts: LoadOptions{pools: true}},
	{name: "run larger than a node", files: one("pool \"p\" {\n  gpus_per_node = 8\n}\nexperiment \"e\" {\n  image = \"i\"\n  pool = \"p\" #<\n  resources { gpus = 16 }\n}\n"), summary: "Runs cannot fit a node of the pool", severity: hcl.DiagWarning},
	{name: "min_idle above idle_timeout", files: one("pool \"a\" {\n  idle_timeout = \"5m\"\n  min_idle = \"6m\" #<\n}\n"), summary: "min_idle above idle_timeout"},
	{name: "malformed min_idle", files: one("pool \"a\" {\n  min_idle = \"soon\" #<\n}\n"), summary: "Invalid duration"},
	{name: "negative price", files: one("pool \"a\" {\n  price_per_hour = -1 #<\n}\n"), summary: "Invalid price"},
	{name: "malformed idle_timeout", files: one("pool \"a\" {\n  idle_timeout = \"10\" #<\n}\n"), summary: "Invalid duration"},
	{name: "negative gpus_per_node", files: one("pool \"a\" {\n  gpus_per_node = -8 #<\n}\n"), summary: "Invalid gpus_per_node"},

	// pools (right-sizing)
	{name: "pools names undeclared pool", files: one("pool \"g1\" { gpus_per_node = 1 }\nexperiment \"e\" {\n  image = \"i\"\n  pools = [\n    \"g1\",\n    \"g2\", #<\n  ]\n}\n"), summary: "Unknown pool in pools"},
	{name: "pools in defaults names undeclared pool", files: one("defaults {\n  pools = [\"nope\"] #<\n}\nexperiment \"e\" {\n  image = \"i\"\n}\n"), summary: "Unknown pool in pools"},
	{name: "empty pools", files: exp("  pools = [] #<"), summary: "Empty pools list"},
	{name: "pools not a list", files: one("pool \"g1\" {}\nexperiment \"e\" {\n  image = \"i\"\n  pools = \"g1\" #<\n}\n"), summary: "Incorrect attribute value type"},
	{name: "duplicate in pools", files: one("pool \"g1\" { gpus_per_node = 1 }\nexperiment \"e\" {\n  image = \"i\"\n  pools = [\n    \"g1\",\n    \"g1\", #<\n  ]\n}\n"), summary: "Duplicate pool in pools", severity: hcl.DiagWarning},
	{name: "pool then pools", files: one("pool \"g1\" {}\nexperiment \"e\" {\n  image = \"i\"\n  pool = \"g1\"\n  pools = [\"g1\"] #<\n}\n"), summary: "Conflicting pool and pools"},
	{name: "pools then pool in defaults", files: one("pool \"g1\" {}\ndefaults {\n  pools = [\"g1\"]\n  pool = \"g1\" #<\n}\n"), summary: "Conflicting pool and pools"},
	{name: "pools candidate without gpus_per_node", files: one("pool \"g1\" {}\npool \"g8\" { gpus_per_node = 8 }\nexperiment \"e\" {\n  image = \"i\"\n  pools = [\n    \"g1\", #<\n    \"g8\",\n  ]\n  resources { gpus = 1 }\n}\n"), summary: "Pool without gpus_per_node in pools", severity: hcl.DiagWarning},
	{name: "no pool in pools fits", files: one("pool \"g8\" { gpus_per_node = 8 }\nexperiment \"e\" {\n  image = \"i\"\n  pools = [\"g8\"] #<\n  resources { gpus = 16 }\n}\n"), summary: "No pool in pools fits the experiment"},
	{name: "no pool in inherited pools fits", files: one("pool \"g1\" {\n  gpus_per_node = 1\n  memory_per_node = \"85GiB\"\n}\ndefaults {\n  pools = [\"g1\"]\n}\nexperiment \"e\" { #<\n  image = \"i\"\n  resources { memory = \"100GiB\" }\n}\n"), summary: "No pool in pools fits the experiment"},

	// params and sweeps
	{name: "undefined param", files: exp("  args = [\"--x\", param.nope] #<"), summary: "Undefined parameter"},
	{name: "undefined param in env", files: exp("  params = { a = 1 }\n  env = { A = \"${param.b}\" } #<"), summary: "Undefined parameter"},
	{name: "undefined param in command", files: exp("  command = param.cmd #<"), summary: "Undefined parameter"},
	{name: "param outside command", files: exp("  params = { a = 1 }\n  description = param.a #<"), summary: "Parameter not allowed here"},
	{name: "param in resources", files: exp("  params = { g = 1 }\n  resources {\n    gpus = param.g #<\n  }"), summary: "Parameter not allowed here"},
	{name: "invalid param name", files: exp("  params = { \"learning-rate\" = 1 } #<"), summary: "Invalid parameter name"},
	{name: "param value list", files: exp("  params = { a = [1] } #<"), summary: "Invalid parameter value"},
	{name: "param value null", files: exp("  params = { a = null } #<"), summary: "Invalid parameter value"},
	{name: "grid entry not a list", files: exp("  sweep {\n    grid = { a = 1 } #<\n  }"), summary: "Invalid grid entry"},
	{name: "grid empty list", files: exp("  sweep {\n    grid = { a = [1], b = [] } #<\n  }"), summary: "Sweep yields no runs"},
	{name: "samples zero", files: exp("  sweep {\n    random {\n      samples = 0 #<\n      x = uniform(0, 1)\n    }\n  }"), summary: "Sweep yields no runs"},
	{name: "samples 1e12", files: exp("  sweep { #<\n    random {\n      samples = 1e12\n      x = uniform(0, 1)\n    }\n  }"), summary: "Sweep too large"},
	{name: "grid 10^12", files: exp("  sweep {\n    grid = { a = range(1000), b = range(1000), c = range(1000), d = range(1000) } #<\n  }"), summary: "Sweep too large"},
	{name: "grid above max-runs", files: exp("  sweep {\n    grid = { a = range(10), b = range(10) } #<\n  }"), opts: LoadOptions{MaxRuns: 99}, summary: "Sweep too large"},
	{name: "duplicate grid value", files: exp("  sweep {\n    grid = { lr = [0.1, 0.01, 0.10] } #<\n  }"), summary: "Duplicate grid value"},
	{name: "random without parameters", files: exp("  sweep {\n    random { #<\n      samples = 3\n    }\n  }"), summary: "Random block draws nothing"},
	{name: "missing samples", files: exp("  sweep {\n    random { #<\n      x = uniform(0, 1)\n    }\n  }"), summary: "Missing samples"},
	{name: "fractional samples", files: exp("  sweep {\n    random {\n      samples = 2.5 #<\n      x = uniform(0, 1)\n    }\n  }"), summary: "Invalid samples"},
	{name: "distribution not a call", files: exp("  sweep {\n    random {\n      samples = 2\n      x = 0.5 #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "unknown distribution", files: exp("  sweep {\n    random {\n      samples = 2\n      x = normal(0, 1) #<\n    }\n  }"), summary: "Unknown distribution"},
	{name: "uniform reversed", files: exp("  sweep {\n    random {\n      samples = 2\n      x = uniform(1, 0) #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "loguniform from zero", files: exp("  sweep {\n    random {\n      samples = 2\n      x = loguniform(0, 1) #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "randint fraction", files: exp("  sweep {\n    random {\n      samples = 2\n      x = randint(0, 1.5) #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "choice empty", files: exp("  sweep {\n    random {\n      samples = 2\n      x = choice() #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "uniform one argument", files: exp("  sweep {\n    random {\n      samples = 2\n      x = uniform(1) #<\n    }\n  }"), summary: "Invalid distribution"},
	{name: "distribution outside random", files: exp("  params = { x = uniform(0, 1) } #<"), summary: "Error in function call"},
	{name: "swept twice", files: exp("  sweep {\n    grid = { x = [1] } #<\n    random {\n      samples = 1\n      x = uniform(0, 1)\n    }\n  }"), summary: "Parameter swept twice"},
	{name: "duplicate sweep", files: exp("  sweep {\n    grid = { x = [1] }\n  }\n  sweep { #<\n  }"), summary: "Duplicate sweep block"},
	{name: "per-run evaluation fails", files: exp("  params = { x = \"abc\" }\n  args = [tonumber(param.x)] #<"), summary: "Invalid value for a run"},

	// env
	{name: "invalid env name", files: exp("  env = { \"1X\" = \"a\" } #<"), summary: "Invalid env name"},
	{name: "reserved env name", files: exp("  env = { CARAVAN_RUN_ID = \"a\" } #<"), summary: "Reserved env name"},
	{name: "env value list", files: exp("  env = { A = [\"a\"] } #<"), summary: "Invalid value"},

	// dependencies
	{name: "depends on unknown", files: exp("  depends_on = [\"nope\"] #<"), summary: "Unknown experiment in depends_on"},
	{name: "depends on itself", files: exp("  depends_on = [\"e\"] #<"), summary: "Experiment depends on itself"},
	{name: "too many runs to wait for", files: one("experiment \"a\" {\n  image = \"x\"\n  sweep {\n    grid = { i = range(600), j = [1, 2] }\n  }\n}\nexperiment \"b\" {\n  image = \"x\"\n  depends_on = [\"a\"] #<\n}\n"), summary: "Too many runs to wait for"},
	{name: "dependency cycle", files: one("experiment \"a\" {\n  image = \"x\"\n  depends_on = [\"b\"]\n}\nexperiment \"b\" {\n  image = \"x\"\n  depends_on = [\"a\"] #<\n}\n"), summary: "Dependency cycle"},

	// variables and locals
	{name: "validation fails on default", files: one("variable \"lr\" {\n  type = number\n  default = 0 #<\n  validation {\n    condition = var.lr > 0\n    error_message = \"lr must be positive\"\n  }\n}\n"), summary: "Invalid value for variable"},
	{name: "validation condition not bool", files: one("variable \"lr\" {\n  default = 1\n  validation {\n    condition = \"yes\" #<\n    error_message = \"x\"\n  }\n}\n"), summary: "Invalid validation condition"},
	{name: "validation references local", files: one("variable \"lr\" {\n  default = 1\n  validation {\n    condition = local.x > 0 #<\n    error_message = \"x\"\n  }\n}\n"), summary: "Invalid reference in validation"},
	{name: "default not of type", files: one("variable \"n\" {\n  type = number\n  default = \"many\" #<\n}\n"), summary: "Invalid value for variable"},
	{name: "default with reference", files: one("variable \"n\" {\n  default = var.m #<\n}\n"), summary: "Variables not allowed"},
	{name: "unknown type", files: one("variable \"n\" {\n  type = integer #<\n}\n"), summary: "Invalid type specification"},
	{name: "required variable unset", files: one("variable \"n\" { #<\n}\n"), summary: "No value for required variable"},
	{name: "undeclared var reference", files: exp("  description = var.nope #<"), summary: "Reference to undeclared input variable"},
	{name: "undeclared local reference", files: exp("  description = local.nope #<"), summary: "Reference to undeclared local value"},
	{name: "unknown root variable", files: exp("  description = foo.bar #<"), summary: "Unknown variable"},
	{name: "local cycle", files: one("locals {\n  a = local.b #<\n  b = local.a\n}\n"), summary: "Cycle in local values"},
	{name: "duplicate local", files: one("locals {\n  a = 1\n}\nlocals {\n  a = 2 #<\n}\n"), summary: "Duplicate local value"},
	{name: "local uses param", files: one("locals {\n  a = param.x #<\n}\n"), summary: "Parameter not allowed here"},

	// functions and hostile input
	{name: "file function", files: exp("  description = file(\"/etc/passwd\") #<"), summary: "Call to unknown function"},
	{name: "huge format width", files: exp("  description = format(\"%999999999d\", 1) #<"), summary: "Error in function call"},
	{name: "huge indent", files: exp("  description = indent(999999999, \"a\\nb\") #<"), summary: "Error in function call"},
	{name: "range too long", files: exp("  tags = [for i in range(100000) : tostring(i)] #<"), summary: "Error in function call"},
	{name: "deep parentheses", files: one("x = " + strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000) + " #<\n"), summary: "Expression too complex"},
	{name: "deep templates", files: one("x = " + strings.Repeat("\"${", 5000) + "1" + strings.Repeat("}\"", 5000) + " #<\n"), summary: "Expression too complex"},
	{name: "deep blocks", files: one(strings.Repeat("a {\n", 256) + "a { #<\n" + strings.Repeat("}\n", 257)), summary: "Expression too complex"},
	{name: "unary chain", files: one("x = " + strings.Repeat("-", 10000) + "1 #<\n"), summary: "Expression too complex"},
	{name: "huge exponent", files: exp("  description = \"${1e999999999}\" #<"), summary: "Number out of range"},
	{name: "number squared out of range", files: one("locals {\n  a = 1e999\n  b = local.a * local.a\n  c = local.b * local.b\n  d = local.c * local.c\n  e = \"${local.d * local.d}\" #<\n}\n"), summary: "Operation failed"},
	{name: "billion laughs", files: one(laughs() + "  a21 = \"${local.a20}${local.a20}\" #<\n  a22 = \"${local.a21}${local.a21}\"\n}\n"), summary: "Value too large"},
	{name: "binary garbage", files: one("\x00\x01\xff\xfe #<\n"), summary: "Not a text file"},
	{name: "interpolation in attribute name", files: exp("  \"${x}\" = 1 #<"), summary: "Invalid argument name"},
	{name: "template for directive in number", files: exp("  priority = \"%{for i in [1]}${i}%{endfor}x\" #<"), summary: "Incorrect attribute value type"},
	{name: "null priority", files: exp("  priority = null #<"), summary: "Incorrect attribute value type"},
}

// markLine returns the 1-based line of the "#<" marker.
func markLine(t *testing.T, src string) int {
	t.Helper()
	i := strings.Index(src, "#<")
	if i < 0 {
		t.Fatalf("test source has no #< marker")
	}
	return strings.Count(src[:i], "\n") + 1
}

func TestDiagnostics(t *testing.T) {
	for _, tc := range diagCases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for n, s := range tc.files {
				files[n] = []byte(s)
			}
			_, diags := LoadSource("", files, tc.opts)
			checkDiagShape(t, diags)
			mf := tc.markFile
			if mf == "" {
				mf = "main.hcl"
			}
			line := markLine(t, tc.files[mf])
			for _, d := range diags {
				if d.Summary == tc.summary && d.Subject.Filename == mf && d.Subject.Start.Line == line {
					if tc.severity == hcl.DiagWarning && d.Severity != hcl.DiagWarning {
						t.Errorf("severity = error, want warning")
					}
					return
				}
			}
			t.Errorf("want %q at %s:%d; got:", tc.summary, mf, line)
			for _, d := range diags {
				t.Logf("  %s: %s | %s", d.Subject, d.Summary, d.Detail)
			}
		})
	}
}

// checkDiagShape enforces the house rule: subject, summary and a detail
// that says what to do.
func checkDiagShape(t *testing.T, diags hcl.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		if d.Subject == nil || d.Summary == "" || d.Detail == "" {
			t.Errorf("diagnostic without subject, summary or detail: %#v", d)
		}
	}
}

// laughs is a locals block whose entries double in size, 16 bytes × 2^20
// at a20.
func laughs() string {
	var b strings.Builder
	b.WriteString("locals {\n  a0 = \"xxxxxxxxxxxxxxxx\"\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "  a%d = \"${local.a%d}${local.a%d}\"\n", i, i-1, i-1)
	}
	return b.String()
}
