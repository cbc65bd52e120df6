package report

import (
	"regexp"
	"strings"
)

// wrap breaks text into lines of at most width runes, each prefixed.
func wrap(text, prefix string, width int) string { return hang(text, prefix, prefix, width) }

// hang is wrap with a different prefix for the lines after the first.
func hang(text, prefix, rest string, width int) string {
	var b strings.Builder
	line := prefix
	n := len([]rune(prefix))
	empty := true
	for _, w := range strings.Fields(text) {
		wl := len([]rune(w))
		if !empty && n+1+wl > width {
			b.WriteString(line + "\n")
			line, n, empty = rest, len([]rune(rest)), true
		}
		if !empty {
			line += " "
			n++
		}
		line += w
		n += wl
		empty = false
	}
	if !empty {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// ansiCSI matches terminal control sequences (colours, cursor moves) that
// progress bars and coloured loggers write to stderr.
var ansiCSI = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// termLine makes a quoted log line fit the page: only what a terminal
// would finally show after carriage returns (a tqdm bar rewrites one line
// hundreds of times), without escape sequences or control characters, cut
// to width runes with an ellipsis. The JSON report keeps the raw line.
func termLine(s string, width int) string {
	s = strings.TrimRight(s, "\r\n")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	s = ansiCSI.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > width {
		s = string(r[:max(width-1, 0)]) + "…"
	}
	return s
}
