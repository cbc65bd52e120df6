package autoscale_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestAutoscalerJobFile checks the shipped Nomad job: valid HCL, a service
// with two instances on distinct hosts, running `caravan autoscale` with a
// state dir on the shared volume, under the exec driver: Nomad refuses a
// volume_mount in a raw_exec task, and the clients of caravan's services
// do not enable raw_exec.
func TestAutoscalerJobFile(t *testing.T) {
	f, diags := hclparse.NewParser().ParseHCLFile("../../jobs/caravan-autoscaler.nomad.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, _, diags := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "job", LabelNames: []string{"name"}}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("want one job block: %v", diags)
	}
	src := string(f.Bytes)
	for _, want := range []string{`type      = "service"`, "count = 2", `"distinct_hosts"`, `"autoscale"`, `"-state-dir", "/var/lib/caravan/terraform"`, `volume_mount`, `/healthz`, `driver = "exec"`} {
		if !strings.Contains(src, want) {
			t.Errorf("job file lacks %s", want)
		}
	}
	if strings.Contains(src, `driver = "raw_exec"`) {
		t.Error("the autoscaler runs under raw_exec, which cannot mount its state volume")
	}
}
