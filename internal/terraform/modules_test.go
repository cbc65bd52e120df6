package terraform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modulesDir holds the pool modules caravan ships.
const modulesDir = "../../terraform"

// runTF runs the terraform CLI in dir with a clean data dir per test.
func runTF(t *testing.T, dir, dataDir string, args ...string) (string, error) {
	t.Helper()
	bin, err := FindBinary("")
	if err != nil {
		t.Skipf("real Terraform test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_DATA_DIR="+dataDir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestModulesValidate checks every shipped module: canonical formatting,
// and `init -backend=false && validate`. The cloud modules need provider
// plugins that cannot be downloaded offline; their validation is skipped
// with the reason when init cannot install them, the others must pass.
func TestModulesValidate(t *testing.T) {
	if out, err := runTF(t, modulesDir, t.TempDir(), "fmt", "-check", "-recursive", "-diff"); err != nil {
		t.Errorf("terraform fmt -check found unformatted files (run terraform fmt -recursive terraform/):\n%s", out)
	}
	for _, m := range []struct {
		name      string
		providers bool
	}{{"test-pool", false}, {"local-pool", false}, {"aws-gpu-pool", true}, {"gcp-gpu-pool", true}} {
		t.Run(m.name, func(t *testing.T) {
			dir := filepath.Join(modulesDir, m.name)
			for _, f := range []string{"variables.tf", "outputs.tf", "README.md"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("module %s lacks %s", m.name, f)
				}
			}
			b, _ := os.ReadFile(filepath.Join(dir, "variables.tf"))
			if !strings.Contains(string(b), `variable "nodes"`) {
				t.Errorf("module %s does not declare variable \"nodes\", the pool module contract", m.name)
			}
			data := t.TempDir()
			if out, err := runTF(t, dir, data, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
				if m.providers {
					t.Skipf("terraform validate of %s needs its provider plugin, which init could not install offline: %s", m.name, firstErrorLine(out))
				}
				t.Fatalf("terraform init failed:\n%s", out)
			}
			if out, err := runTF(t, dir, data, "validate", "-no-color"); err != nil {
				t.Fatalf("terraform validate failed:\n%s", out)
			}
			// init may leave a lock file in the module; keep the tree clean.
			if m.providers {
				os.Remove(filepath.Join(dir, ".terraform.lock.hcl"))
			}
		})
	}
}

func firstErrorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "│╷╵"))
		if strings.HasPrefix(l, "Error:") {
			return l
		}
	}
	return strings.TrimSpace(out)
}
