package agent

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestAgentJobspec parses jobs/caravan-agent.nomad.hcl as HCL and checks
// the choices the agent depends on: a system job whose task passes the
// node's identity and pool and binds to the node's address.
func TestAgentJobspec(t *testing.T) {
	f, diags := hclparse.NewParser().ParseHCLFile("../../jobs/caravan-agent.nomad.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	var job *hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == "job" {
			job = b
		}
	}
	if job == nil || job.Labels[0] != "caravan-agent" {
		t.Fatal(`no job "caravan-agent" block`)
	}
	typ, diags := job.Body.Attributes["type"].Expr.Value(nil)
	if diags.HasErrors() || typ.AsString() != "system" {
		t.Errorf("job type = %v, want system (one agent per node)", typ)
	}
	src := string(f.Bytes)
	args := src[strings.Index(src, "args = ["):]
	args = args[:strings.Index(args, "]")]
	for _, want := range []string{`"agent"`, `"-listen", "${NOMAD_IP_metrics}:${NOMAD_PORT_metrics}"`,
		`"-node-id", "${node.unique.id}"`, `"-pool", "${node.pool}"`, `"-node", "${node.unique.name}"`} {
		if !strings.Contains(args, want) {
			t.Errorf("task args lack %s", want)
		}
	}
	if strings.Contains(args, "0.0.0.0") {
		t.Error("the agent must not listen on all interfaces by default")
	}
}
