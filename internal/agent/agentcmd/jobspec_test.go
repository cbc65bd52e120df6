package agentcmd

import (
	"flag"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// block returns the first block of type typ in body, or nil.
func block(body *hclsyntax.Body, typ string) *hclsyntax.Block {
	for _, b := range body.Blocks {
		if b.Type == typ {
			return b
		}
	}
	return nil
}

// TestAgentJobspec parses jobs/caravan-agent.nomad.hcl and checks the
// choices the agent depends on: a system job that runs caravan-agent (no
// subcommand) with flags the agent defines, passing the node's identity
// and pool and binding to the node's address.
func TestAgentJobspec(t *testing.T) {
	f, diags := hclparse.NewParser().ParseHCLFile("../../../jobs/caravan-agent.nomad.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	job := block(f.Body.(*hclsyntax.Body), "job")
	if job == nil || job.Labels[0] != "caravan-agent" {
		t.Fatal(`no job "caravan-agent" block`)
	}
	typ, diags := job.Body.Attributes["type"].Expr.Value(nil)
	if diags.HasErrors() || typ.AsString() != "system" {
		t.Errorf("job type = %v, want system (one agent per node)", typ)
	}
	var config *hclsyntax.Block
	if g := block(job.Body, "group"); g != nil {
		if task := block(g.Body, "task"); task != nil {
			config = block(task.Body, "config")
		}
	}
	if config == nil {
		t.Fatal("no group > task > config block")
	}
	if cmd := string(config.Body.Attributes["command"].Expr.Range().SliceBytes(f.Bytes)); cmd != "var.caravan_bin" {
		t.Errorf("command = %s, want var.caravan_bin", cmd)
	}
	tuple, ok := config.Body.Attributes["args"].Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Fatal("args is not a list")
	}
	var args []string
	for _, e := range tuple.Exprs {
		args = append(args, source(t, f.Bytes, e))
	}
	fs := flag.NewFlagSet("caravan-agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Define(fs, func(string) string { return "" })
	for i := 0; i < len(args); i += 2 {
		name, isFlag := strings.CutPrefix(args[i], "-")
		if !isFlag || fs.Lookup(name) == nil {
			t.Errorf("args[%d] = %q is not a flag of caravan-agent (it takes no subcommand)", i, args[i])
		}
	}
	pairs := strings.Join(args, " ")
	for _, want := range []string{"-listen ${NOMAD_IP_metrics}:${NOMAD_PORT_metrics}",
		"-node-id ${node.unique.id}", "-pool ${node.pool}", "-node ${node.unique.name}"} {
		if !strings.Contains(pairs, want) {
			t.Errorf("task args lack %s: %v", want, args)
		}
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "0.0.0.0") }) {
		t.Error("the agent must not listen on all interfaces by default")
	}
}

// source returns a quoted list element as written between its quotes,
// ${...} templates included.
func source(t *testing.T, src []byte, e hclsyntax.Expression) string {
	t.Helper()
	raw := string(e.Range().SliceBytes(src))
	s, err := strconv.Unquote(raw)
	if err != nil {
		t.Fatalf("args element %s is not a quoted string", raw)
	}
	return s
}
