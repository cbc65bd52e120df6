//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShippedJobspecsValidate has the real Nomad validate each of caravan's
// own jobspecs (jobs/) as an operator would run it, in the rig's default
// node pool: Nomad's own parser and checks, so a driver, a volume or an
// interpolation it refuses fails here rather than at deployment. Warnings
// fail too, each one naming something an operator would have to fix,
// except the one about the cluster rather than the file: the agent's
// memory_max needs memory oversubscription, which the rig leaves off.
func TestShippedJobspecsValidate(t *testing.T) {
	bin := os.Getenv("NOMAD_BIN")
	if bin == "" || os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_BIN or NOMAD_ADDR is not set: this test runs `nomad job validate` against a real Nomad (make e2e sets both from the rig)")
	}
	vars := map[string][]string{
		"caravan-autoscaler": {"-var", "config_git=git::https://example.com/acme/caravan-pools", "-var", "node_pool=default"},
		"caravan-controller": {"-var", "node_pool=default"},
		"caravan-agent":      {"-var", "node_pool=all"},
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "jobs", "*.nomad.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no jobspecs under jobs/ (%v)", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".nomad.hcl")
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append(append([]string{"job", "validate"}, vars[name]...), f)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("nomad %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			warnings := strings.Count(string(out), "\n* ")
			if strings.Contains(string(out), "Memory oversubscription is not enabled") {
				warnings--
			}
			if warnings > 0 {
				t.Errorf("nomad job validate warns about %s:\n%s", f, out)
			}
		})
	}
}
