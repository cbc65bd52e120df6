package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fuzzSeeds adds the shipped examples and a few hostile shapes to f.
func fuzzSeeds(f *testing.F) {
	f.Add([]byte(sweepHCL))
	f.Add([]byte(uglyHCL))
	f.Add([]byte("a = " + strings.Repeat("[", 300) + strings.Repeat("]", 300)))
	f.Add([]byte(badRefs(50)))
	f.Add([]byte("x = \"\x1b]0;t\x07\"\n\t y = <<EOT\n${a}\nEOT\n"))
}

// FuzzFmt: whatever a pull request holds, fmt never crashes (a stack
// overflow is fatal, not a panic); what it accepts it formats to a fixed
// point that still parses.
func FuzzFmt(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		files := map[string]*hcl.File{}
		out, diags := formatSource("f.hcl", src, files)
		if diags.HasErrors() {
			return
		}
		again, diags := formatSource("f.hcl", out, files)
		if diags.HasErrors() {
			t.Fatalf("formatted source does not parse: %v\n%q", diags, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("fmt is not idempotent:\n%q\n%q", out, again)
		}
	})
}

// FuzzWriteDiags prints the parser's diagnostics for arbitrary source,
// plus one with an arbitrary range and text, as text and JSON: no panic,
// no raw control character, output bounded, JSON valid and complete.
func FuzzWriteDiags(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := hclsyntax.ParseConfig(src, "f.hcl", hcl.InitialPos)
		if file == nil {
			file = &hcl.File{Bytes: src}
		}
		// A range from the input's own bytes, possibly past its end or
		// inverted, as a buggy or stale diagnostic could carry.
		var a, b int
		if len(src) >= 4 {
			a, b = int(src[0])<<8|int(src[1]), int(src[2])<<8|int(src[3])
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: string(src[:min(len(src), 64)]), Detail: string(src),
			Subject: &hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: 1 + a%7, Column: 1 + a, Byte: a}, End: hcl.Pos{Line: 1 + b%9, Column: 1 + b, Byte: b}}})
		files := map[string]*hcl.File{"f.hcl": file}
		var out, errb bytes.Buffer
		writeDiags(Env{Stdout: &out, Stderr: &errb}, files, diags, false)
		if i := strings.IndexAny(errb.String(), "\x1b\x07\u009b"); i >= 0 {
			t.Fatalf("raw control character in text diagnostics at %d", i)
		}
		if max := (maxDiagsShown + 1) * (2*maxTextBytes + 12*(maxSnippetCols+16) + 512); errb.Len() > max {
			t.Fatalf("%d bytes of text for %d diagnostics", errb.Len(), len(diags))
		}
		writeDiags(Env{Stdout: &out, Stderr: &errb}, files, diags, true)
		var list []jsonDiag
		if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) != len(diags) {
			t.Fatalf("-json: %d of %d diagnostics (%v)", len(list), len(diags), err)
		}
	})
}

// FuzzRecordViews: run records, autoscaler pool and cost records, jobs and
// allocations come from Nomad Variables and responses anyone with write
// access can shape. Decoded from arbitrary JSON, every view that prints
// them (show, ls, pools, cost) must not panic.
func FuzzRecordViews(f *testing.F) {
	f.Add([]byte(`{"id":"r-1","state":"failed","record":{"run_id":"r-1","experiment":"e","params":{"lr":0.1},"job":{"ID":"r-1"}},` +
		`"job":{"ID":"r-1","Stop":true,"TaskGroups":[{"Tasks":[{"Config":{"args":["a"]}}]}]},` +
		`"allocations":[{"ID":"a","TaskStates":{"train":{"State":"dead","Events":[{"Type":"Terminated","ExitCode":3}]}}}]}`))
	f.Add([]byte(`{"record":{"submitted_at":"0001-01-01T00:00:00Z","gpus":-1},"job":{"Priority":null,"Status":null}}`))
	f.Add([]byte(`{"pool":"a","last_decision":{"actions":[{"kind":"create","nodes":["x"]}]},"nodes":{"ready":-3},"nodes_in_state":["x"],"hours":[{"node_seconds":-1}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		var doc showDoc
		if json.Unmarshal(raw, &doc) == nil {
			writeShow(io.Discard, &doc, now)
			if doc.Record != nil {
				if t, err := newLsTable(nil, defaultColumns, lsWidth, now); err == nil {
					t.write(io.Discard, []query.Run{query.FromRecord(doc.Record, record.Ref{})})
				}
			}
		}
		var pool autoscale.PoolRecord
		if json.Unmarshal(raw, &pool) == nil {
			writePools(io.Discard, []autoscale.PoolRecord{pool}, now)
		}
		var cost autoscale.CostRecord
		if json.Unmarshal(raw, &cost) == nil {
			writeCost(io.Discard, sumCost([]autoscale.CostRecord{cost}, now.Add(-24*time.Hour), now))
		}
	})
}
