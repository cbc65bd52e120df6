package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestWriteDiagsText(t *testing.T) {
	src := "experiment \"e\" {\n\tpool = \"x\"\n  args = [\n    \"a\",\n  ]\n}\n"
	f, diags := hclsyntax.ParseConfig([]byte(src), "e.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files := map[string]*hcl.File{"e.hcl": f}
	at := func(l1, c1, b1, l2, c2, b2 int) *hcl.Range {
		return &hcl.Range{Filename: "e.hcl", Start: hcl.Pos{Line: l1, Column: c1, Byte: b1}, End: hcl.Pos{Line: l2, Column: c2, Byte: b2}}
	}
	tests := []struct {
		name string
		diag *hcl.Diagnostic
		want string
	}{
		{"tab-indented", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad pool", Detail: "Fix it.", Subject: at(2, 9, 25, 2, 12, 28)},
			"Error: Bad pool\n\n  on e.hcl:2:9, in experiment \"e\":\n   2: \tpool = \"x\"\n      \t       ^^^\n\nFix it.\n\n"},
		{"multi-line", &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Odd args", Detail: "Look.", Subject: at(3, 10, 38, 5, 4, 52)},
			"Warning: Odd args\n\n  on e.hcl:3:10, in experiment \"e\":\n   3:   args = [\n               ^\n   4:     \"a\",\n      ^^^^^^^^\n   5:   ]\n      ^^^\n\nLook.\n\n"},
		{"empty range", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing", Detail: "Add it.", Subject: at(1, 1, 0, 1, 1, 0)},
			"Error: Missing\n\n  on e.hcl:1:1, in experiment \"e\":\n   1: experiment \"e\" {\n      ^\n\nAdd it.\n\n"},
		{"no source", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: "D", Subject: &hcl.Range{Filename: "other.hcl", Start: hcl.Pos{Line: 4, Column: 2}}},
			"Error: S\n\n  on other.hcl:4:2:\n\nD\n\n"},
		{"whole directory", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: "D", Subject: &hcl.Range{Filename: "exps", Start: hcl.InitialPos, End: hcl.InitialPos}},
			"Error: S\n\n  on exps:\n\nD\n\n"},
		{"command line", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: "D", Subject: &hcl.Range{Filename: "<command line>"}},
			"Error: S\n\n  on <command line>:\n\nD\n\n"},
		{"no subject", &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Detail: "D"}, "Error: S\n\nD\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			writeDiags(Env{Stdout: &out, Stderr: &errb}, files, hcl.Diagnostics{tt.diag}, false)
			if errb.String() != tt.want || out.Len() != 0 {
				t.Errorf("got\n%q\nwant\n%q", errb.String(), tt.want)
			}
		})
	}
}

func TestWriteDiagsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagWarning, Summary: "W", Detail: "w <detail>", Subject: &hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 1, Column: 2, Byte: 1}, End: hcl.Pos{Line: 1, Column: 4, Byte: 3}}},
		{Severity: hcl.DiagError, Summary: "E", Detail: "e"},
	}
	writeDiags(Env{Stdout: &out, Stderr: &errb}, nil, diags, true)
	want := `[
  {
    "severity": "warning",
    "summary": "W",
    "detail": "w \u003cdetail\u003e",
    "range": {
      "filename": "a.hcl",
      "start": {
        "line": 1,
        "column": 2,
        "byte": 1
      },
      "end": {
        "line": 1,
        "column": 4,
        "byte": 3
      }
    }
  },
  {
    "severity": "error",
    "summary": "E",
    "detail": "e",
    "range": null
  }
]
`
	if out.String() != want || errb.Len() != 0 {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	writeDiags(Env{Stdout: &out, Stderr: &errb}, nil, nil, true)
	if strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("no diagnostics: %q, want []", out.String())
	}
}

func TestUnifiedDiff(t *testing.T) {
	var b bytes.Buffer
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	c := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve"
	writeUnifiedDiff(&b, "f", []byte(a), []byte(c))
	want := "--- old/f\n+++ new/f\n" +
		"@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n" +
		"@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n\\ No newline at end of file\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	writeUnifiedDiff(&b, "f", nil, []byte("x\n"))
	if b.String() != "--- old/f\n+++ new/f\n@@ -0,0 +1,1 @@\n+x\n" {
		t.Errorf("from empty: %q", b.String())
	}
}
