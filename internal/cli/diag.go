package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Limits that keep diagnostic output proportionate to what a person can
// read, whatever the input: a 35 KB file with 5,000 bad references used to
// print 264 MB, each diagnostic echoing the same 35 KB line.
const (
	// maxDiagsShown is how many diagnostics text output prints; the rest
	// are counted ("and 4,900 more errors").
	maxDiagsShown = 100
	// maxSnippetCols is how many characters of one source line a snippet
	// shows; a longer line is cut around the start of the subject.
	maxSnippetCols = 120
	// snippetLead is how many characters before the subject a cut line
	// keeps, so the subject is seen in its context.
	snippetLead = 40
	// maxTextBytes caps a summary or detail in text output; -json has
	// maxJSONBytes.
	maxTextBytes = 4 << 10
	// maxJSONBytes caps a summary or detail in -json output, which
	// otherwise lists every diagnostic in full.
	maxJSONBytes = 64 << 10
)

// writeDiags prints diagnostics: as text on env.Stderr, in the layout
// Terraform users know (severity and summary, "on file:line:col", the
// source lines with the range underlined, the detail), or with asJSON as
// one JSON array on env.Stdout for CI annotations. files supplies the
// source for snippets; nil or a missing file just omits the snippet.
//
// Text output shows the first maxDiagsShown diagnostics and counts the
// rest; -json lists every one, each string capped at maxJSONBytes.
func writeDiags(env Env, files map[string]*hcl.File, diags hcl.Diagnostics, asJSON bool) {
	if asJSON {
		writeDiagsJSON(env.Stdout, diags)
		return
	}
	w := bufio.NewWriter(env.Stderr)
	for i, d := range diags {
		if i == maxDiagsShown {
			writeNotShown(w, diags[i:])
			break
		}
		writeDiagText(w, files, d)
	}
	w.Flush()
}

// writeNotShown counts the diagnostics text output leaves out.
func writeNotShown(w io.Writer, rest hcl.Diagnostics) {
	errs, warns := 0, 0
	for _, d := range rest {
		if d.Severity == hcl.DiagWarning {
			warns++
		} else {
			errs++
		}
	}
	var parts []string
	if errs > 0 {
		parts = append(parts, countNoun(errs, "more error"))
	}
	if warns > 0 {
		parts = append(parts, countNoun(warns, "more warning"))
	}
	fmt.Fprintf(w, "... and %s, not shown (the first %d are above; -json lists them all).\n\n", strings.Join(parts, " and "), maxDiagsShown)
}

// countNoun is "4,900 more errors", "1 more error".
func countNoun(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return thousands(n) + " " + noun
}

// thousands writes n with comma separators: 4900 → "4,900".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// capText cuts s to at most max bytes (on a character boundary), saying
// how much was cut.
func capText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
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
		j := jsonDiag{Severity: severity(d), Summary: capText(d.Summary, maxJSONBytes), Detail: capText(d.Detail, maxJSONBytes)}
		if r := d.Subject; r != nil {
			j.Range = &jsonRange{
				Filename: capText(r.Filename, maxJSONBytes),
				Start:    jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:      jsonPos{r.End.Line, r.End.Column, r.End.Byte},
			}
		}
		out = append(out, j)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // a closed stdout has nobody left to tell
	bw.Flush()
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
	fmt.Fprintf(w, "%s: %s\n\n", title, visible(capText(d.Summary, maxTextBytes)))
	if r := d.Subject; r != nil && r.Filename != "" {
		file := files[r.Filename]
		where := visible(capText(r.Filename, maxTextBytes))
		// A zero-width range at 1:1 of something that is not a loaded
		// file (a directory, an unreadable -var-file, a -var value)
		// points at the thing as a whole; ":1:1" would suggest a place
		// inside it.
		whole := file == nil && r.Start == hcl.InitialPos && r.End == hcl.InitialPos
		if r.Start.Line > 0 && !whole {
			where = fmt.Sprintf("%s:%d:%d", where, r.Start.Line, r.Start.Column)
		}
		if ctx := contextOf(file, r.Start.Byte); ctx != "" {
			where += ", in " + visible(capText(ctx, maxSnippetCols))
		}
		fmt.Fprintf(w, "  on %s:\n", where)
		if file != nil && len(file.Bytes) > 0 && r.Start.Line > 0 {
			writeSnippet(w, file.Bytes, d)
		}
		fmt.Fprintln(w)
	}
	if d.Detail != "" {
		fmt.Fprintf(w, "%s\n\n", visible(capText(d.Detail, maxTextBytes)))
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
// Lines longer than maxSnippetCols are cut around the subject, and
// characters that could control a terminal are shown as escapes.
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
	// Lines are found by their newlines from the first line of the
	// snippet on, not with hcl's RangeScanner from the top of the file:
	// that one segments every line into grapheme clusters for columns,
	// which made printing proportional to the file's size.
	start := lineStart(src, min(max(snip.Start.Byte, 0), len(src)))
	lineNo := 1 + bytes.Count(src[:start], []byte("\n"))
	shown := 0
	for ls := start; ls <= snip.End.Byte; lineNo++ {
		if ls >= len(src) && (ls > len(src) || ls > 0) {
			break // past the last line; a final newline starts none
		}
		le := len(src)
		if i := bytes.IndexByte(src[ls:], '\n'); i >= 0 {
			le = ls + i
		}
		next := le + 1
		overlaps := ls < snip.End.Byte && le > snip.Start.Byte
		if !overlaps && !(ls == le && ls == snip.Start.Byte) {
			ls = next
			continue
		}
		if shown == 8 {
			fmt.Fprintf(w, "%6s (%d more lines)\n", "...", snip.End.Line-lineNo+1)
			break
		}
		shown++
		text := bytes.TrimSuffix(src[ls:le], []byte("\r"))
		hs, he := -1, -1
		if subject.Start.Byte < ls+len(text) && subject.End.Byte > ls {
			hs, he = max(subject.Start.Byte, ls)-ls, min(subject.End.Byte, ls+len(text))-ls
		}
		text, hs, he = clipLine(text, hs, he)
		fmt.Fprintf(w, "%4d: %s\n", lineNo, visible(string(text)))
		if hs >= 0 && he > hs {
			// Keep tabs so the carets line up under tab-indented source.
			pad := padFor(visible(string(text[:hs])))
			n := max(utf8.RuneCountInString(visible(string(text[hs:he]))), 1)
			fmt.Fprintf(w, "      %s%s\n", pad, strings.Repeat("^", n))
		}
		ls = next
	}
}

// lineStart is the offset of the first byte of the line holding offset.
func lineStart(src []byte, offset int) int {
	if i := bytes.LastIndexByte(src[:offset], '\n'); i >= 0 {
		return i + 1
	}
	return 0
}

// clipLine cuts a source line longer than maxSnippetCols characters to a
// window that starts snippetLead characters before the highlight [hs, he)
// (byte offsets; -1 when the line has none), marking cut ends with "…",
// and returns the highlight's offsets within the window.
func clipLine(text []byte, hs, he int) ([]byte, int, int) {
	if utf8.RuneCount(text) <= maxSnippetCols {
		return text, hs, he
	}
	start := 0
	if hs > 0 {
		start = hs
		for n := 0; n < snippetLead && start > 0; n++ {
			_, size := utf8.DecodeLastRune(text[:start])
			start -= size
		}
	}
	end := start
	for n := 0; n < maxSnippetCols && end < len(text); n++ {
		_, size := utf8.DecodeRune(text[end:])
		end += size
	}
	var out []byte
	shift := -start
	if start > 0 {
		out = append(out, "…"...)
		shift += len("…")
	}
	out = append(out, text[start:end]...)
	if end < len(text) {
		out = append(out, "…"...)
	}
	if hs >= 0 {
		hs += shift
		he = min(he, end) + shift
	}
	return out, hs, he
}

func padFor(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}
