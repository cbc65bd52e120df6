package agent

import (
	"math"

	"github.com/caravan-ml/caravan/internal/record"
)

// The columns of a timeline point.
const (
	colT = iota
	colGPUUtil
	colGPUMem
	colRSS
	colCPU
	colNetRx
	colNetTx
	nCols
)

type point [nCols]float64

// timeline down-samples a run's samples to at most max points. While it
// has room, each sample is a point; when it is full, adjacent points are
// merged pairwise (their mean) and from then on every 2^k samples make one
// point. A column's NaNs (samples without data) are left out of its means;
// a point whose samples all lack it stays NaN. The result depends only on
// the samples, never on timing.
type timeline struct {
	max    int
	stride int // samples per point
	pts    []point
	acc    point // sum of the pending samples' values
	accN   [nCols]int
	n      int // pending samples
}

func newTimeline(max int) *timeline {
	if max < 2 {
		max = 2
	}
	return &timeline{max: max, stride: 1}
}

func (t *timeline) add(p point) {
	for i, v := range p {
		if !math.IsNaN(v) {
			t.acc[i] += v
			t.accN[i]++
		}
	}
	t.n++
	if t.n < t.stride {
		return
	}
	t.pts = append(t.pts, t.pending())
	t.acc, t.accN, t.n = point{}, [nCols]int{}, 0
	if len(t.pts) >= t.max {
		half := t.pts[:0]
		for i := 0; i+1 < len(t.pts); i += 2 {
			var s point
			for c := range s {
				s[c] = mean2(t.pts[i][c], t.pts[i+1][c])
			}
			half = append(half, s)
		}
		t.pts = half
		t.stride *= 2
	}
}

// pending is the mean of the samples not yet in a point.
func (t *timeline) pending() point {
	var p point
	for i := range p {
		if t.accN[i] == 0 {
			p[i] = math.NaN()
		} else {
			p[i] = t.acc[i] / float64(t.accN[i])
		}
	}
	return p
}

// mean2 is the mean of a and b, or the one that is not NaN.
func mean2(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return (a + b) / 2
}

// export returns the timeline with any pending samples as a last, partial
// point; it never has more than max points. A column without any value is
// left out.
func (t *timeline) export() record.Timeline {
	pts := t.pts
	if t.n > 0 {
		pts = append(pts[:len(pts):len(pts)], t.pending())
	}
	col := func(c int) record.Series {
		var out record.Series
		any := false
		for _, p := range pts {
			out = append(out, p[c])
			any = any || !math.IsNaN(p[c])
		}
		if !any {
			return nil
		}
		return out
	}
	var out record.Timeline
	for _, p := range pts {
		out.T = append(out.T, p[colT])
	}
	out.GPUUtil, out.GPUMem, out.RSS, out.CPU = col(colGPUUtil), col(colGPUMem), col(colRSS), col(colCPU)
	out.NetRx, out.NetTx = col(colNetRx), col(colNetTx)
	return out
}
