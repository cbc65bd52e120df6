package report

import (
	"math"
	"strings"
)

var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values as one line of width block characters scaled
// between lo and hi (values outside are clamped). When there are more
// values than columns each column shows the maximum of its bucket, so that
// a short spike, the thing one looks for in memory, is never averaged away.
// NaNs draw as a space; no values give "".
func Sparkline(values []float64, width int, lo, hi float64) string {
	if len(values) == 0 || width <= 0 {
		return ""
	}
	width = min(width, len(values))
	var b strings.Builder
	b.Grow(width * 3)
	span := hi - lo
	for c := 0; c < width; c++ {
		from, to := c*len(values)/width, (c+1)*len(values)/width
		v := math.NaN()
		for _, x := range values[from:to] {
			if !math.IsNaN(x) && (math.IsNaN(v) || x > v) {
				v = x
			}
		}
		if math.IsNaN(v) {
			b.WriteByte(' ')
			continue
		}
		f := 0.0
		if span > 0 {
			f = (v - lo) / span
		}
		f = math.Max(0, math.Min(1, f))
		b.WriteRune(sparkLevels[int(math.Round(f*float64(len(sparkLevels)-1)))])
	}
	return b.String()
}
