package agent

import "github.com/caravan-ml/caravan/internal/record"

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
// point. The result depends only on the samples, never on timing.
type timeline struct {
	max    int
	stride int // samples per point
	pts    []point
	acc    point // sum of the pending samples
	accN   int
}

func newTimeline(max int) *timeline {
	if max < 2 {
		max = 2
	}
	return &timeline{max: max, stride: 1}
}

func (t *timeline) add(p point) {
	for i := range p {
		t.acc[i] += p[i]
	}
	t.accN++
	if t.accN < t.stride {
		return
	}
	t.pts = append(t.pts, mean(t.acc, t.accN))
	t.acc, t.accN = point{}, 0
	if len(t.pts) >= t.max {
		half := t.pts[:0]
		for i := 0; i+1 < len(t.pts); i += 2 {
			var s point
			for c := range s {
				s[c] = (t.pts[i][c] + t.pts[i+1][c]) / 2
			}
			half = append(half, s)
		}
		t.pts = half
		t.stride *= 2
	}
}

func mean(sum point, n int) point {
	for i := range sum {
		sum[i] /= float64(n)
	}
	return sum
}

// export returns the timeline with any pending samples as a last, partial
// point; it never has more than max points.
func (t *timeline) export() record.Timeline {
	pts := t.pts
	if t.accN > 0 {
		pts = append(pts[:len(pts):len(pts)], mean(t.acc, t.accN))
	}
	var out record.Timeline
	for _, p := range pts {
		out.T = append(out.T, p[colT])
		out.GPUUtil = append(out.GPUUtil, p[colGPUUtil])
		out.GPUMem = append(out.GPUMem, p[colGPUMem])
		out.RSS = append(out.RSS, p[colRSS])
		out.CPU = append(out.CPU, p[colCPU])
		out.NetRx = append(out.NetRx, p[colNetRx])
		out.NetTx = append(out.NetTx, p[colNetTx])
	}
	return out
}
