package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text\twith tab\n":          "plain text\twith tab\n",
		"日本語 café 🚀 ｗｉｄｅ":                 "日本語 café 🚀 ｗｉｄｅ",
		"\x1b]0;title\x07":                `\x1b]0;title\x07`,
		"a\x1b[2Jb\rc\x7f":                `a\x1b[2Jb\x0dc\x7f`,
		"csi \u009b31m":                   `csi \u009b31m`,
		"file\u202egnp.exe \u2066x\u2069": `file\u202egnp.exe \u2066x\u2069`,
		"bad \xff\xfe utf8 \xe6\x97":      `bad \xff\xfe utf8 \xe6\x97`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSafeWriterKeepsCharactersWhole: a character split across writes
// passes whole; one never completed is shown as escapes at Flush.
func TestSafeWriterKeepsCharactersWhole(t *testing.T) {
	var b bytes.Buffer
	w := newSafeWriter(&b)
	for _, c := range []byte("日本\x1b") {
		w.Write([]byte{c})
	}
	w.Write([]byte("\xe8\xaa"))
	w.Flush()
	if got, want := b.String(), `日本\x1b\xe8\xaa`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSafeWriterKeepsJSONMeaning: JSON output read back through the
// filter decodes to the same raw values.
func TestSafeWriterKeepsJSONMeaning(t *testing.T) {
	raw := "x\x1b]52;c;cHduZWQ=\x07 \u009b1m \u202e 日本 \xff"
	doc, _ := json.Marshal(map[string]string{"v": raw})
	var b bytes.Buffer
	w := newSafeWriter(&b)
	w.Write(doc)
	w.Flush()
	var back map[string]string
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	want := strings.ToValidUTF8(raw, "\ufffd") // as encoding/json wrote it
	if back["v"] != want || strings.ContainsAny(b.String(), "\x1b\x07\u009b\u202e") {
		t.Errorf("through the filter: %q decodes to %q, want %q", b.String(), back["v"], want)
	}
}

// hostile holds the characters an attacker would use: an OSC 52 clipboard
// write, a screen clear, a one-byte CSI and a right-to-left override.
const hostile = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\u009b31m\u202e"

func noRawControls(t *testing.T, what, out string) {
	t.Helper()
	if i := strings.IndexAny(out, "\x1b\x07\u009b\u202e"); i >= 0 {
		t.Errorf("%s printed a raw control character at byte %d: %q", what, i, out[max(0, i-40):min(len(out), i+40)])
	}
}

// TestCommandsShowOutsideStringsSafely: HCL values, node names, task
// events, autoscaler records and Nomad's error messages with terminal
// escapes in them are printed as visible escapes by every command, and
// -json keeps the raw values.
func TestCommandsShowOutsideStringsSafely(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Name: "gpu" + hostile, Pool: "gpu", GPUs: 2})
	env := []string{"NOMAD_ADDR=" + srv.URL()}
	hcl := strings.Replace(trainHCL("train", "0.1", "0.2", "0.3"), "params  = { seed = 1 }",
		`params  = { seed = 1, a = "\u001b]52;c;cHduZWQ=\u0007\u001b[2J\u009b31m\u202e" }`, 1)
	dir := writeConfigDir(t, map[string]string{"train.hcl": hcl})

	r := execCaravan(t, env, "", "plan", dir)
	noRawControls(t, "plan", r.stdout+r.stderr)
	mustContain(t, r.stdout, `\x1b]52;c;`)
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	recordRuns(t, env)
	ids := srv.JobIDs("default")
	var placed string
	for _, id := range ids {
		if a := srv.Allocs("default", id); len(a) > 0 && placed == "" {
			placed = id
			srv.StartAlloc(a[0].ID)
			srv.EndAlloc(a[0].ID, nomadtest.TaskExit{Code: 1, Message: "driver says" + hostile})
			srv.WriteLog(a[0].ID, compile.TaskName, false, "epoch 1 "+hostile+"\n")
		}
	}
	now := time.Now()
	rec := autoscale.PoolRecord{Pool: "gpu", NodePool: "gpu", Updated: now, InState: []string{"gpu" + hostile},
		Last:      autoscale.RecordedDecision{Time: now, Reason: "because" + hostile},
		Terraform: autoscale.TerraformStatus{LastError: "terraform: " + hostile, Failures: 1}}
	b, _ := json.Marshal(rec)
	srv.SetVariable("default", autoscale.PoolRecordPrefix+"gpu", map[string]string{"record": string(b)})
	c := autoscale.CostRecord{Pool: "gpu", Date: now.UTC().Format(time.DateOnly), Price: 1, GPUsPerNode: 2,
		RunGPUSeconds: map[string]float64{"run" + hostile: 3600}}
	b, _ = json.Marshal(c)
	srv.SetVariable("default", autoscale.CostRecordPrefix+"gpu/"+c.Date, map[string]string{"record": string(b)})

	// status prints no node names or params: it is checked for what it
	// prints all the same.
	for _, args := range [][]string{{"ls"}, {"show", placed}, {"status"}, {"report", placed}, {"pools"}, {"cost"}} {
		r := execCaravan(t, env, "", args...)
		out := r.stdout + r.stderr
		noRawControls(t, strings.Join(args, " "), out)
		if args[0] != "status" && !strings.Contains(out, `\x1b`) {
			t.Errorf("caravan %s did not print the hostile value at all:\n%s", strings.Join(args, " "), out)
		}
	}
	// Task output is the user's own program's: logs prints it as written.
	if r := execCaravan(t, env, "", "logs", placed); !strings.Contains(r.stdout, hostile) {
		t.Errorf("logs changed the task's output: %q", r.stdout)
	}
	// A Nomad error body is text from outside too.
	srv.FailNext(1, "/v1/jobs", 500, "boom"+hostile)
	r = execCaravan(t, env, "", "ls")
	noRawControls(t, "ls error", r.stderr)
	mustContain(t, r.stderr, `boom\x1b]52`)

	for _, row := range lsRows(t, env) {
		for _, p := range row.Params {
			if p.Name == "a" && p.Value != hostile {
				t.Errorf("ls -json param a = %q, want the raw value", p.Value)
			}
		}
	}
}
