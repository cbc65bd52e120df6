package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

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

// badRefs is a file with n references to an undeclared x on one line: one
// diagnostic per reference, each pointing into the same long line.
func badRefs(n int) string {
	return "locals { a = [" + strings.Repeat("x.y.z, ", n) + "] }\n"
}

// TestDiagOutputBounded: 5,000 diagnostics on one 35 KB line used to print
// 264 MB (every diagnostic echoed the whole line). Text output now shows
// the first maxDiagsShown, counts the rest, and cuts long lines around the
// subject; -json still lists every diagnostic.
func TestDiagOutputBounded(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"bad.hcl": badRefs(5000)})
	r := execCaravan(t, nil, "", "validate", dir)
	if r.code != ExitError {
		t.Fatalf("code %d", r.code)
	}
	if len(r.stderr) > 64<<10 {
		t.Fatalf("%d bytes of diagnostics for 5,000 errors; want at most 64 KiB", len(r.stderr))
	}
	if got := strings.Count(r.stderr, "Error: "); got != maxDiagsShown {
		t.Errorf("%d diagnostics printed, want %d", got, maxDiagsShown)
	}
	if !strings.Contains(r.stderr, "... and 4,900 more errors, not shown") {
		t.Errorf("the count of the others is missing:\n%s", r.stderr[len(r.stderr)-300:])
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if n := utf8.RuneCountInString(line); n > maxSnippetCols+16 && !strings.HasPrefix(line, "There is no variable") {
			t.Fatalf("a line of %d characters was printed: %.200s", n, line)
		}
	}
	j := execCaravan(t, nil, "", "validate", "-json", dir)
	var all []jsonDiag
	if err := json.Unmarshal([]byte(j.stdout), &all); err != nil || len(all) != 5000 {
		t.Errorf("-json: %d diagnostics (%v), want all 5,000", len(all), err)
	}
}

// TestSnippetCutAroundSubject: on a long line the window starts a little
// before the subject and the carets stay under it.
func TestSnippetCutAroundSubject(t *testing.T) {
	src := "locals {\n  a = [" + strings.Repeat("1, ", 10000) + "x.y, " + strings.Repeat("2, ", 10000) + "3]\n}\n"
	f, diags := hclsyntax.ParseConfig([]byte(src), "l.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	at := strings.Index(src, "x.y")
	line2 := strings.Index(src, "\n") + 1
	subject := &hcl.Range{Filename: "l.hcl",
		Start: hcl.Pos{Line: 2, Column: at - line2 + 1, Byte: at},
		End:   hcl.Pos{Line: 2, Column: at - line2 + 4, Byte: at + 3}}
	var out, errb bytes.Buffer
	writeDiags(Env{Stdout: &out, Stderr: &errb}, map[string]*hcl.File{"l.hcl": f},
		hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "S", Detail: "D", Subject: subject}}, false)
	lines := strings.Split(errb.String(), "\n")
	var code, carets string
	for i, l := range lines {
		if strings.HasPrefix(l, "   2: ") {
			code, carets = l, lines[i+1]
		}
	}
	if code == "" || !strings.HasPrefix(code, "   2: …") || !strings.HasSuffix(code, "…") {
		t.Fatalf("line 2 not cut on both sides:\n%s", errb.String())
	}
	col := strings.Index(carets, "^^^")
	if col < 0 || !strings.HasPrefix(string([]rune(code)[utf8.RuneCountInString(carets[:col]):]), "x.y") {
		t.Errorf("carets not under the subject:\n%s\n%s", code, carets)
	}
}

// TestDiagTextEscapesControls: a summary, detail, file name or source line
// holding terminal escapes prints them as visible escapes.
func TestDiagTextEscapesControls(t *testing.T) {
	src := "a = \"\x1b]0;owned\x07\"\n"
	f, _ := hclsyntax.ParseConfig([]byte(src), "e\x1b[2J.hcl", hcl.InitialPos)
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "bad \x1b[31m", Detail: "detail \u009b1m \u202egnp.exe",
		Subject: &hcl.Range{Filename: "e\x1b[2J.hcl", Start: hcl.Pos{Line: 1, Column: 5, Byte: 4}, End: hcl.Pos{Line: 1, Column: 15, Byte: 14}}}
	var out, errb bytes.Buffer
	writeDiags(Env{Stdout: &out, Stderr: &errb}, map[string]*hcl.File{"e\x1b[2J.hcl": f}, hcl.Diagnostics{d}, false)
	got := errb.String()
	if strings.ContainsAny(got, "\x1b\x07\u009b\u202e") {
		t.Fatalf("raw control characters printed: %q", got)
	}
	for _, want := range []string{`bad \x1b[31m`, `e\x1b[2J.hcl:1:5`, `"\x1b]0;owned\x07"`, `\u009b1m \u202egnp.exe`} {
		if !strings.Contains(got, want) {
			t.Errorf("%q missing from\n%s", want, got)
		}
	}
}

// BenchmarkWriteDiags prints the 5,000 diagnostics of one 35 KB line, as
// validate does (text, then -json).
func BenchmarkWriteDiags(b *testing.B) {
	src := []byte(badRefs(5000))
	f, _ := hclsyntax.ParseConfig(src, "bad.hcl", hcl.InitialPos)
	diags := make(hcl.Diagnostics, 0, 5000)
	for i := 0; i < 5000; i++ {
		at := len("locals { a = [") + i*len("x.y.z, ")
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared variable",
			Detail:  "There is no variable named \"x\" here.",
			Subject: &hcl.Range{Filename: "bad.hcl", Start: hcl.Pos{Line: 1, Column: at + 1, Byte: at}, End: hcl.Pos{Line: 1, Column: at + 2, Byte: at + 1}}})
	}
	files := map[string]*hcl.File{"bad.hcl": f}
	for _, asJSON := range []bool{false, true} {
		b.Run(map[bool]string{false: "text", true: "json"}[asJSON], func(b *testing.B) {
			for b.Loop() {
				writeDiags(Env{Stdout: io.Discard, Stderr: io.Discard}, files, diags, asJSON)
			}
		})
	}
}
