package agent

import (
	"math"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestTimelineBoundedAndDeterministic(t *testing.T) {
	for _, n := range []int{1, 511, 512, 513, 1000, 5000, 17280} { // 17280 = a day at 5 s
		a, b := newTimeline(record.MaxTimelinePoints), newTimeline(record.MaxTimelinePoints)
		sum := 0.0
		for i := range n {
			p := point{float64(i * 5), float64(i%100) / 100, float64(i), 0, 1, 0, 0}
			a.add(p)
			b.add(p)
			sum += float64(i)
		}
		ea, eb := a.export(), b.export()
		if len(ea.T) > record.MaxTimelinePoints || len(ea.T) == 0 {
			t.Errorf("n=%d: %d points", n, len(ea.T))
		}
		if n <= record.MaxTimelinePoints-1 && len(ea.T) != n {
			t.Errorf("n=%d: a timeline with room must keep every sample, got %d", n, len(ea.T))
		}
		for i := range ea.T {
			if ea.T[i] != eb.T[i] || ea.GPUMem[i] != eb.GPUMem[i] {
				t.Fatalf("n=%d: not deterministic at %d", n, i)
			}
			if i > 0 && ea.T[i] <= ea.T[i-1] {
				t.Fatalf("n=%d: time not increasing at %d", n, i)
			}
		}
		if ea.CPU[0] != 1 || ea.CPU[len(ea.CPU)-1] != 1 {
			t.Errorf("n=%d: merging must average (a constant stays constant)", n)
		}
		// A linear series stays linear under pairwise means: its first and
		// last points bracket the real range.
		if ea.GPUMem[0] < 0 || ea.GPUMem[len(ea.GPUMem)-1] > float64(n-1) {
			t.Errorf("n=%d: merged values out of range", n)
		}
		_ = sum
	}
}

func TestTimelineMergeValues(t *testing.T) {
	tl := newTimeline(4)
	for i := range 4 {
		tl.add(point{float64(i), float64(i)})
	}
	// Full at 4 points → merged to 2: (0+1)/2, (2+3)/2; stride 2.
	got := tl.export().GPUUtil
	want := []float64{0.5, 2.5}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	tl.add(point{4, 4})
	got = tl.export().GPUUtil // the pending sample shows as a partial point
	if len(got) != 3 || got[2] != 4 {
		t.Fatalf("with a pending sample: got %v", got)
	}
	tl.add(point{5, 5})
	got = tl.export().GPUUtil
	if len(got) != 3 || math.Abs(got[2]-4.5) > 1e-12 {
		t.Fatalf("after a full stride: got %v", got)
	}
}
