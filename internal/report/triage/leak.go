package triage

import (
	"math"
	"slices"

	"github.com/caravan-ml/caravan/internal/record"
)

// Thresholds of the leak verdict. A series is called a leak only when all
// of them agree: a trend test alone fires on a warm-up ramp or a single
// step, a good linear fit alone fires on tiny drifts, and a large growth
// alone fires on noise. Together they single out steady growth.
const (
	// warmupFraction of the timeline is skipped: allocators, caches and
	// data loaders grow memory at the start of every healthy run.
	warmupFraction = 0.10
	// minLeakPoints below which no verdict is given.
	minLeakPoints = 8
	// minR2 of the least-squares line: the growth must be close to linear.
	minR2 = 0.5
	// MinMKZ is the one-sided 1% point of the normal distribution: the
	// Mann–Kendall statistic must say "increasing" with p < 0.01.
	MinMKZ = 2.326
	// The growth over the fitted window must be material: at least
	// minRelGrowth of the starting level, or minLimitGrowth of the limit,
	// and never less than minAbsGrowth bytes.
	minRelGrowth   = 0.10
	minLimitGrowth = 0.05
	minAbsGrowth   = 32 << 20
)

// Leak verdicts.
const (
	VerdictLeak         = "leak"              // steady, material, significant growth
	VerdictGrowing      = "growing"           // grew, but not steadily (a step, a ramp that stopped)
	VerdictFlat         = "flat"              // no material upward trend
	VerdictInsufficient = "insufficient data" // too few points to say
)

// Leak is the verdict on one memory series (RSS or GPU memory).
type Leak struct {
	Series  string `json:"series"` // SeriesRSS or SeriesGPUMem
	Verdict string `json:"verdict"`
	Leaking bool   `json:"leaking"`
	// SlopeMiBPerHour is the robust (Theil–Sen) slope of the fitted window.
	SlopeMiBPerHour float64 `json:"slope_mib_per_hour"`
	// Line is y = InterceptBytes + SlopeBytesPerSecond*t, t in seconds
	// since the usage start, drawn over [FitFromS, FitToS].
	SlopeBytesPerSecond float64 `json:"slope_bytes_per_second"`
	InterceptBytes      float64 `json:"intercept_bytes"`
	FitFromS            float64 `json:"fit_from_s"`
	FitToS              float64 `json:"fit_to_s"`
	Points              int     `json:"points"`
	// R2 is the coefficient of determination of the least-squares line.
	R2 float64 `json:"r2"`
	// MannKendallZ is the normalised Mann–Kendall trend statistic; above
	// 2.33 the series increases with p < 0.01.
	MannKendallZ float64 `json:"mann_kendall_z"`
	// Steady: the medians of the window's four quarters strictly increase.
	Steady      bool    `json:"steady"`
	StartBytes  float64 `json:"start_bytes"`  // fitted level at FitFromS
	GrowthBytes float64 `json:"growth_bytes"` // fitted growth over the window
	LimitBytes  float64 `json:"limit_bytes,omitempty"`
	// TimeToLimitS is how long, from the last sample, the line takes to
	// reach LimitBytes (0: already there); nil when there is no limit or
	// the series does not grow.
	TimeToLimitS *float64 `json:"time_to_limit_s,omitempty"`
	// Why explains the verdict in words.
	Why string `json:"why"`
}

// Series names of a Leak.
const (
	SeriesRSS    = "rss"
	SeriesGPUMem = "gpu_mem"
)

// FitLeak judges whether series y (bytes) sampled at times t (seconds)
// grows steadily, and when it would reach limit (bytes; 0 = unknown). It
// skips the first tenth of the timeline as warm-up, fits a Theil–Sen line
// (robust to spikes) and a least-squares line (for R²), and runs the
// Mann–Kendall trend test. t must be non-decreasing; NaNs are dropped.
func FitLeak(series string, t, y []float64, limit float64) Leak {
	l := Leak{Series: series, Verdict: VerdictInsufficient, LimitBytes: limit}
	t, y = clean(t, y)
	if len(t) > maxFitPoints {
		t, y = downsample(t, y, record.MaxTimelinePoints)
	}
	if len(t) < minLeakPoints || t[len(t)-1] <= t[0] {
		l.Why = "too few samples to judge"
		return l
	}
	from := t[0] + warmupFraction*(t[len(t)-1]-t[0])
	i0, _ := slices.BinarySearch(t, from)
	t, y = t[i0:], y[i0:]
	if len(t) < minLeakPoints || t[len(t)-1] <= t[0] {
		l.Why = "too few samples after warm-up to judge"
		return l
	}
	l.Points = len(t)
	l.FitFromS, l.FitToS = t[0], t[len(t)-1]

	b, a := theilSen(t, y)
	l.SlopeBytesPerSecond, l.InterceptBytes = b, a
	l.SlopeMiBPerHour = b * 3600 / (1 << 20)
	l.R2 = robustR2(t, y, a, b)
	l.MannKendallZ = mannKendallZ(y)
	l.Steady = quartersIncrease(y)
	l.StartBytes = a + b*l.FitFromS
	l.GrowthBytes = b * (l.FitToS - l.FitFromS)

	material := l.GrowthBytes >= minAbsGrowth &&
		(l.GrowthBytes >= minRelGrowth*math.Abs(l.StartBytes) || (limit > 0 && l.GrowthBytes >= minLimitGrowth*limit))
	trend := b > 0 && l.MannKendallZ >= MinMKZ
	switch {
	case !trend || !material:
		l.Verdict = VerdictFlat
		switch {
		case !trend:
			l.Why = "no significant upward trend"
		default:
			l.Why = "grows too little to matter"
		}
	case !l.Steady || l.R2 < minR2:
		l.Verdict = VerdictGrowing
		l.Why = "grew, but not steadily (a step or a ramp that levelled off)"
	default:
		l.Verdict = VerdictLeak
		l.Leaking = true
		l.Why = "grows steadily and materially"
	}
	if limit > 0 && b > 0 {
		rem := (limit - (a + b*l.FitToS)) / b
		if rem < 0 {
			rem = 0
		}
		l.TimeToLimitS = &rem
	}
	return l
}

// maxFitPoints bounds the quadratic fit: the agent keeps at most
// record.MaxTimelinePoints, but a hand-edited or foreign usage record may not.
const maxFitPoints = 2 * record.MaxTimelinePoints

// downsample averages t and y in n consecutive buckets.
func downsample(t, y []float64, n int) ([]float64, []float64) {
	dt, dy := make([]float64, n), make([]float64, n)
	for b := 0; b < n; b++ {
		from, to := b*len(t)/n, (b+1)*len(t)/n
		for i := from; i < to; i++ {
			dt[b] += t[i]
			dy[b] += y[i]
		}
		dt[b] /= float64(to - from)
		dy[b] /= float64(to - from)
	}
	return dt, dy
}

// clean drops points where either coordinate is NaN, infinite or absurd,
// or where time runs backwards, and
// truncates to the shorter slice, so that a malformed usage record still
// gives a verdict on what is valid.
func clean(t, y []float64) ([]float64, []float64) {
	n := min(len(t), len(y))
	ok := true
	for i := 0; i < n; i++ {
		if !sane(t[i]) || !sane(y[i]) || (i > 0 && t[i] < t[i-1]) {
			ok = false
			break
		}
	}
	if ok {
		return t[:n], y[:n]
	}
	ct, cy := make([]float64, 0, n), make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if !sane(t[i]) || !sane(y[i]) || (len(ct) > 0 && t[i] < ct[len(ct)-1]) {
			continue
		}
		ct, cy = append(ct, t[i]), append(cy, y[i])
	}
	return ct, cy
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// sane bounds what a memory timeline can hold (100 EB, 30 000 years), so
// that differences and products in the fit never overflow to Inf or NaN.
func sane(f float64) bool { return finite(f) && math.Abs(f) < 1e20 }

// quartersIncrease reports whether the medians of the four quarters of y
// strictly increase: growth that continues through the whole window, not a
// single step or an early ramp.
func quartersIncrease(y []float64) bool {
	n := len(y)
	if n < 8 {
		return false
	}
	prev := math.Inf(-1)
	for q := 0; q < 4; q++ {
		m := median(slices.Clone(y[q*n/4 : (q+1)*n/4]))
		if !(m > prev) {
			return false
		}
		prev = m
	}
	return true
}
