package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// writeDiags prints diagnostics: as text on env.Stderr, in the layout
// Terraform users know (severity and summary, "on file:line:col", the
// source lines with the range underlined, the detail), or with asJSON as
// one JSON array on env.Stdout for CI annotations. files supplies the
// source for snippets; nil or a missing file just omits the snippet.
func writeDiags(env Env, files map[string]*hcl.File, diags hcl.Diagnostics, asJSON bool) {
	if asJSON {
		writeDiagsJSON(env.Stdout, diags)
		return
	}
	for _, d := range diags {
		writeDiagText(env.Stderr, files, d)
	}
}

// jsonDiag is the -json form of a diagnostic. Field names are Terraform's
// (validate -json), so existing CI annotation scripts read them.
type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func writeDiagsJSON(w io.Writer, diags hcl.Diagnostics) {
	out := make([]jsonDiag, 0, len(diags))
	for _, d := range diags {
		j := jsonDiag{Severity: severity(d), Summary: d.Summary, Detail: d.Detail}
		if r := d.Subject; r != nil {
			j.Range = &jsonRange{
				Filename: r.Filename,
				Start:    jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:      jsonPos{r.End.Line, r.End.Column, r.End.Byte},
			}
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // a closed stdout has nobody left to tell
}

func severity(d *hcl.Diagnostic) string {
	if d.Severity == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

func writeDiagText(w io.Writer, files map[string]*hcl.File, d *hcl.Diagnostic) {
	title := "Error"
	if d.Severity == hcl.DiagWarning {
		title = "Warning"
	}
	fmt.Fprintf(w, "%s: %s\n\n", title, d.Summary)
	if r := d.Subject; r != nil && r.Filename != "" {
		file := files[r.Filename]
		where := r.Filename
		// A zero-width range at 1:1 of something that is not a loaded
		// file (a directory, an unreadable -var-file, a -var value)
		// points at the thing as a whole; ":1:1" would suggest a place
		// inside it.
		whole := file == nil && r.Start == hcl.InitialPos && r.End == hcl.InitialPos
		if r.Start.Line > 0 && !whole {
			where = fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
		}
		if ctx := contextOf(file, r.Start.Byte); ctx != "" {
			where += ", in " + ctx
		}
		fmt.Fprintf(w, "  on %s:\n", where)
		if file != nil && len(file.Bytes) > 0 && r.Start.Line > 0 {
			writeSnippet(w, file.Bytes, d)
		}
		fmt.Fprintln(w)
	}
	if d.Detail != "" {
		fmt.Fprintf(w, "%s\n\n", d.Detail)
	}
}

// contextOf names the block around a byte offset (`experiment "resnet"`),
// as hcl's own diagnostic writer does.
func contextOf(file *hcl.File, offset int) string {
	if file == nil {
		return ""
	}
	if nav, ok := file.Nav.(interface{ ContextString(int) string }); ok {
		return nav.ContextString(offset)
	}
	return ""
}

// writeSnippet prints the lines of the subject (and context) range with
// line numbers, each followed by a line of ^ under the subject's part.
func writeSnippet(w io.Writer, src []byte, d *hcl.Diagnostic) {
	subject := *d.Subject
	if subject.Empty() {
		// An empty range points between characters: mark the next one.
		subject.End.Byte++
		subject.End.Column++
	}
	snip := subject
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	sc := hcl.NewRangeScanner(src, subject.Filename, bufio.ScanLines)
	shown := 0
	for sc.Scan() {
		line := sc.Range()
		if !line.Overlaps(snip) && !(line.Start.Line == snip.Start.Line && line.Empty()) {
			continue
		}
		if shown == 8 {
			fmt.Fprintf(w, "%6s (%d more lines)\n", "...", snip.End.Line-line.Start.Line+1)
			break
		}
		shown++
		text := sc.Bytes()
		fmt.Fprintf(w, "%4d: %s\n", line.Start.Line, text)
		before, hl, _ := line.PartitionAround(subject)
		if hl.Empty() {
			continue
		}
		// Keep tabs so the carets line up under tab-indented source.
		pad := padFor(before.SliceBytes(src))
		n := max(utf8.RuneCount(hl.SliceBytes(src)), 1)
		fmt.Fprintf(w, "      %s%s\n", pad, strings.Repeat("^", n))
	}
}

func padFor(prefix []byte) string {
	var b strings.Builder
	for _, r := range string(prefix) {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}
