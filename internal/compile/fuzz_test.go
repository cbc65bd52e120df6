package compile

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/text/unicode/norm"
)

// FuzzRenderRoundTrip puts arbitrary strings where users put text (command,
// args, env values, a string param) and checks that both renders carry them
// exactly: the JSON decodes back to the same job, and the jobspec parses
// back to it (HCL escapes "${", "%{", quotes, newlines, control bytes).
func FuzzRenderRoundTrip(f *testing.F) {
	for _, s := range []string{"", "plain", "${NOMAD_META_x}", "%{ if x }", "$${", "a\"b\\c", "line\nbreak\ttab", "\x00\x1f", "ünïcødé ✓", "<&>", "\u2028"} {
		f.Add(s, s+"-arg", s+"-env")
	}
	f.Fuzz(func(t *testing.T, command, arg, envVal string) {
		// Nomad's API and HCL carry text: invalid UTF-8 survives neither,
		// and HCL reads every string literal in Unicode NFC (as it read the
		// experiment files themselves), so only such text round-trips.
		for _, s := range []string{command, arg, envVal} {
			if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) {
				t.Skip()
			}
		}
		run := minimalRun()
		run.Command = "/bin/x" + command
		run.Args = []string{arg, command}
		run.Env = map[string]string{"USER_VALUE": envVal}
		run.Params = []spec.Param{{Name: "s", Value: cty.StringVal(envVal)}}
		job, err := Job(run, Options{})
		if err != nil {
			t.Fatal(err)
		}
		js, err := RenderJSON(job)
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ Job *api.Job }
		if err := json.Unmarshal(js, &env); err != nil {
			t.Fatalf("render is not JSON: %v", err)
		}
		back, _ := RenderJSON(env.Job)
		if !bytes.Equal(js, back) {
			t.Fatalf("JSON does not round-trip")
		}
		src, err := RenderHCL(job)
		if err != nil {
			t.Fatal(err)
		}
		fromHCL, _ := RenderJSON(parseJobspec(t, src))
		if !bytes.Equal(js, fromHCL) {
			t.Fatalf("jobspec does not parse back to the job:\n%s\n%s", golden.Diff(string(js), string(fromHCL)), src)
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(job.Meta[record.MetaParams]), &meta); err != nil || meta["s"] != envVal {
			t.Fatalf("caravan_params %q does not hold the param: %v", job.Meta[record.MetaParams], err)
		}
	})
}
