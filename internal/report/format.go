package report

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// human writes a duration the way people say it: "6ms", "42s", "3m 20s",
// "2h 13m", "3d 4h".
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return twoUnits(int(d.Minutes()), "m", int(d.Seconds())%60, "s")
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return twoUnits(int(d.Hours()), "h", int(d.Minutes())%60, "m")
	}
	d = d.Round(time.Hour)
	return twoUnits(int(d.Hours())/24, "d", int(d.Hours())%24, "h")
}

func twoUnits(a int, au string, b int, bu string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, au)
	}
	return fmt.Sprintf("%d%s %d%s", a, au, b, bu)
}

// bytesIEC writes a byte count in binary units: "512 MiB", "38.2 GiB".
func bytesIEC(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(b) >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return trimZero(fmt.Sprintf("%.1f", b)) + " " + units[i]
}

// mib writes a MiB figure, switching to GiB from 1024 MiB.
func mib(m float64) string { return bytesIEC(m * (1 << 20)) }

// hours writes GPU-hours with the precision the size deserves.
func hours(h float64) string {
	switch {
	case h < 1:
		return fmt.Sprintf("%.2f", h)
	case h < 100:
		return fmt.Sprintf("%.1f", h)
	}
	return fmt.Sprintf("%.0f", h)
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

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
