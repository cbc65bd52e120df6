package golden

import (
	"fmt"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name, want, got string
		lines           []string // line numbers Diff must name, in order
	}{
		{name: "equal", want: "a\nb\n", got: "a\nb\n"},
		{name: "changed line", want: "a\nb\nc", got: "a\nX\nc", lines: []string{"line 2:"}},
		{name: "got longer", want: "a", got: "a\nb", lines: []string{"line 2:"}},
		{name: "want longer", want: "a\nb\nc", got: "a", lines: []string{"line 2:", "line 3:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diff(tt.want, tt.got)
			if len(tt.lines) == 0 && d != "" {
				t.Fatalf("Diff of equal texts = %q, want empty", d)
			}
			for _, l := range tt.lines {
				i := strings.Index(d, l)
				if i < 0 {
					t.Fatalf("Diff = %q, lacks %q", d, l)
				}
				d = d[i+len(l):]
			}
		})
	}
}

func TestDiffStopsAfter20Lines(t *testing.T) {
	want := strings.Repeat("a\n", 50)
	got := strings.Repeat("b\n", 50)
	if n := strings.Count(Diff(want, got), "line "); n != 20 {
		t.Errorf("Diff names %d lines, want 20", n)
	}
}

func TestCheckMatches(t *testing.T) {
	Check(t, "testdata/hello.golden", []byte("hello\n"))
}

// recorder records the failure Check reports instead of failing the test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, a ...any) { r.msg = fmt.Sprintf(format, a...) }

func TestCheckReportsDifference(t *testing.T) {
	r := &recorder{TB: t}
	Check(r, "testdata/hello.golden", []byte("hullo\n"))
	if !strings.Contains(r.msg, "testdata/hello.golden differs") || !strings.Contains(r.msg, `got  "hullo"`) {
		t.Errorf("Check of different output reported %q", r.msg)
	}
}
