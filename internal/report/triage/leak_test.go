package triage

import (
	"math"
	"slices"
	"testing"
	"time"
)

// series samples f at n points over dur.
func series(n int, dur time.Duration, f func(i int, t float64) float64) (ts, ys []float64) {
	for i := 0; i < n; i++ {
		t := dur.Seconds() * float64(i) / float64(n-1)
		ts = append(ts, t)
		ys = append(ys, f(i, t))
	}
	return ts, ys
}

func TestFitLeak(t *testing.T) {
	const h = 3600.0
	sixH := 6 * time.Hour
	tests := []struct {
		name    string
		n       int
		f       func(i int, t float64) float64
		limit   float64
		verdict string
		slope   float64 // expected MiB/hour when > 0 (±5%)
		ttl     float64 // expected time to limit in hours when > 0 (±5%); -1: exactly 0
	}{
		{name: "steady leak", n: 512, limit: 16 * gib, verdict: VerdictLeak, slope: 512, ttl: 22,
			f: func() func(int, float64) float64 {
				nz := noise(1, 50*mibf)
				return func(_ int, t float64) float64 { return 2*gib + 512*mibf*t/h + nz() }
			}()},
		{name: "leak with failed reads recorded as zero", n: 512, limit: 80 * gib, verdict: VerdictLeak, slope: 1024,
			f: func() func(int, float64) float64 {
				nz := noise(2, 100*mibf)
				return func(i int, t float64) float64 {
					if i%97 == 50 {
						return 0
					}
					return 20*gib + 1024*mibf*t/h + nz()
				}
			}()},
		{name: "leak past its limit", n: 256, limit: 4 * gib, verdict: VerdictLeak, ttl: -1,
			f: func(_ int, t float64) float64 { return 2*gib + 512*mibf*t/h }},
		{name: "flat", n: 512, limit: 16 * gib, verdict: VerdictFlat,
			f: func() func(int, float64) float64 {
				nz := noise(3, 20*mibf)
				return func(int, float64) float64 { return 4*gib + nz() }
			}()},
		{name: "noisy flat", n: 512, limit: 16 * gib, verdict: VerdictFlat,
			f: func() func(int, float64) float64 {
				nz := noise(4, 1*gib)
				return func(int, float64) float64 { return 6*gib + nz() }
			}()},
		{name: "flat with spikes", n: 512, limit: 16 * gib, verdict: VerdictFlat,
			f: func() func(int, float64) float64 {
				nz := noise(5, 50*mibf)
				return func(i int, _ float64) float64 {
					v := 4*gib + nz()
					if i%37 == 0 {
						v += 3 * gib
					}
					return v
				}
			}()},
		{name: "garbage-collector sawtooth", n: 512, limit: 16 * gib, verdict: VerdictFlat,
			f: func(_ int, t float64) float64 { return 4*gib + gib*math.Mod(t, 1200)/1200 }},
		{name: "single step", n: 512, limit: 16 * gib, verdict: VerdictGrowing,
			f: func() func(int, float64) float64 {
				nz := noise(6, 20*mibf)
				return func(_ int, t float64) float64 {
					if t < 3*h {
						return 4*gib + nz()
					}
					return 6*gib + nz()
				}
			}()},
		{name: "warm-up ramp then plateau", n: 512, limit: 80 * gib, verdict: VerdictFlat,
			f: func() func(int, float64) float64 {
				nz := noise(7, 200*mibf)
				return func(_ int, t float64) float64 { return math.Min(t/(0.15*6*h), 1)*30*gib + nz() }
			}()},
		{name: "slow drift too small to matter", n: 512, limit: 80 * gib, verdict: VerdictFlat,
			f: func(_ int, t float64) float64 { return 40*gib + 10*mibf*t/h }},
		{name: "shrinking", n: 512, limit: 16 * gib, verdict: VerdictFlat,
			f: func(_ int, t float64) float64 { return 8*gib - 256*mibf*t/h }},
		{name: "too few samples", n: 6, limit: 16 * gib, verdict: VerdictInsufficient,
			f: func(_ int, t float64) float64 { return 2*gib + 512*mibf*t/h }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, ys := series(tt.n, sixH, tt.f)
			l := FitLeak(SeriesRSS, ts, ys, tt.limit)
			if l.Verdict != tt.verdict {
				t.Fatalf("verdict %q (%s), want %q; slope %.1f MiB/h R² %.3f z %.2f steady %v growth %s",
					l.Verdict, l.Why, tt.verdict, l.SlopeMiBPerHour, l.R2, l.MannKendallZ, l.Steady, BytesIEC(l.GrowthBytes))
			}
			if l.Leaking != (tt.verdict == VerdictLeak) {
				t.Errorf("Leaking = %v with verdict %q", l.Leaking, l.Verdict)
			}
			if tt.slope > 0 && math.Abs(l.SlopeMiBPerHour-tt.slope) > 0.05*tt.slope {
				t.Errorf("slope %.1f MiB/h, want %.0f ±5%%", l.SlopeMiBPerHour, tt.slope)
			}
			switch {
			case tt.ttl > 0:
				if l.TimeToLimitS == nil || math.Abs(*l.TimeToLimitS/h-tt.ttl) > 0.05*tt.ttl {
					t.Errorf("time to limit %v, want %.1fh ±5%%", hoursPtr(l.TimeToLimitS), tt.ttl)
				}
			case tt.ttl == -1:
				if l.TimeToLimitS == nil || *l.TimeToLimitS != 0 {
					t.Errorf("time to limit %v, want 0 (already past)", hoursPtr(l.TimeToLimitS))
				}
			}
		})
	}
}

func hoursPtr(s *float64) string {
	if s == nil {
		return "nil"
	}
	return time.Duration(*s * float64(time.Second)).String()
}

// TestFitLeakFalsePositives runs many independent noisy flat series and
// many noisy leaks through the verdict: no flat one may be called a leak,
// and every leak must be found.
func TestFitLeakFalsePositives(t *testing.T) {
	const h = 3600.0
	for seed := uint64(100); seed < 150; seed++ {
		nz := noise(seed, 300*mibf)
		ts, ys := series(512, 4*time.Hour, func(int, float64) float64 { return 8*gib + nz() })
		if l := FitLeak(SeriesGPUMem, ts, ys, 80*gib); l.Leaking {
			t.Errorf("seed %d: flat noise called a leak: slope %.0f MiB/h R² %.2f z %.1f", seed, l.SlopeMiBPerHour, l.R2, l.MannKendallZ)
		}
		nz = noise(seed+1000, 300*mibf)
		ts, ys = series(512, 4*time.Hour, func(_ int, t float64) float64 { return 8*gib + 1*gib*t/h + nz() })
		if l := FitLeak(SeriesGPUMem, ts, ys, 80*gib); !l.Leaking {
			t.Errorf("seed %d: 1 GiB/h leak missed: %s (%s) R² %.2f z %.1f steady %v", seed, l.Verdict, l.Why, l.R2, l.MannKendallZ, l.Steady)
		}
	}
}

// TestFitLeakEachCriterionDecides holds series that pass every test of a
// leak but one, so that each criterion is shown to matter on its own.
func TestFitLeakEachCriterionDecides(t *testing.T) {
	// Mann–Kendall: a short zigzag whose quarters rise and whose line fits
	// (R² 0.58), but whose ups and downs are too even for p < 0.01.
	q := []float64{16, 9, 8, 13, 14, 19, 16, 17, 22, 21, 20, 17}
	var ts, ys []float64
	for i, v := range q {
		ts, ys = append(ts, float64(i)), append(ys, gib+v*gib/16)
	}
	if l := FitLeak(SeriesRSS, ts, ys, 0); l.Verdict != VerdictFlat || !l.Steady || l.R2 < minR2 || l.MannKendallZ >= MinMKZ {
		t.Errorf("zigzag: %s, steady %v R² %.2f z %.2f; want flat decided by the trend test alone", l.Verdict, l.Steady, l.R2, l.MannKendallZ)
	}
	// R²: growth buried in noise twice its size; the trend is certain and
	// steady, but the line explains too little to extrapolate to a limit.
	nz := noise(11, 2*gib)
	ts, ys = series(512, 6*time.Hour, func(_ int, t float64) float64 { return 20*gib + 4*gib*t/(6*3600) + nz() })
	if l := FitLeak(SeriesGPUMem, ts, ys, 0); l.Verdict != VerdictGrowing || !l.Steady || l.MannKendallZ < MinMKZ || l.R2 >= minR2 {
		t.Errorf("noisy growth: %s, steady %v R² %.2f z %.2f; want growing decided by R² alone", l.Verdict, l.Steady, l.R2, l.MannKendallZ)
	}
}

func TestFitLeakDropsNaN(t *testing.T) {
	ts, ys := series(100, time.Hour, func(i int, t float64) float64 { return gib + 2*gib*t/3600 })
	ys[10], ys[50] = math.NaN(), math.Inf(1)
	l := FitLeak(SeriesRSS, ts, ys, 0)
	if !l.Leaking || l.Points >= 100 {
		t.Fatalf("got %s with %d points", l.Verdict, l.Points)
	}
	if l.TimeToLimitS != nil {
		t.Errorf("time to limit %v without a limit", *l.TimeToLimitS)
	}
}

func TestFitLeakBoundsLongSeries(t *testing.T) {
	// 100k points would take minutes at O(n²); they are averaged down.
	ts, ys := series(100_000, 10*time.Hour, func(_ int, t float64) float64 { return gib + 100*mibf*t/3600 })
	l := FitLeak(SeriesRSS, ts, ys, 0)
	if l.Points > maxFitPoints || !l.Leaking || math.Abs(l.SlopeMiBPerHour-100) > 1 {
		t.Errorf("%d points, %s at %.1f MiB/h", l.Points, l.Verdict, l.SlopeMiBPerHour)
	}
}

func TestMedianMatchesSort(t *testing.T) {
	nz := noise(9, 1)
	for n := 1; n < 60; n++ {
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Round(nz() * 3) // many ties
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		want := sorted[n/2]
		if n%2 == 0 {
			want = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		if got := median(s); got != want {
			t.Fatalf("n=%d: median %v, want %v", n, got, want)
		}
	}
}

func TestMannKendall(t *testing.T) {
	up := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// S = 45, Var = 10·9·25/18 = 125, Z = 44/√125.
	if z, want := mannKendallZ(up), 44/math.Sqrt(125); math.Abs(z-want) > 1e-12 {
		t.Errorf("increasing: z = %v, want %v", z, want)
	}
	if z := mannKendallZ([]float64{3, 3, 3, 3, 3, 3, 3, 3}); z != 0 {
		t.Errorf("constant: z = %v, want 0", z)
	}
	down := slices.Clone(up)
	slices.Reverse(down)
	if z := mannKendallZ(down); z >= -MinMKZ {
		t.Errorf("decreasing: z = %v, want strongly negative", z)
	}
}

func TestTheilSenExactLine(t *testing.T) {
	ts, ys := series(50, time.Hour, func(_ int, t float64) float64 { return 7 + 0.5*t })
	ys[3], ys[40] = 1e12, -1e12 // outliers do not move the median slope
	b, a := theilSen(ts, ys)
	if math.Abs(b-0.5) > 1e-9 || math.Abs(a-7) > 1e-6 {
		t.Errorf("slope %v intercept %v, want 0.5 and 7", b, a)
	}
}

func BenchmarkFitLeak512(b *testing.B) {
	nz := noise(1, 50*mibf)
	ts, ys := series(512, 6*time.Hour, func(_ int, t float64) float64 { return 2*gib + 512*mibf*t/3600 + nz() })
	b.ReportAllocs()
	for b.Loop() {
		FitLeak(SeriesRSS, ts, ys, 16*gib)
	}
}
