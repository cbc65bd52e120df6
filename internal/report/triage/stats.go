package triage

import (
	"math"
	"slices"
)

// theilSen returns the median of pairwise slopes and the median intercept.
// With 512 points that is 130k slopes; quickselect keeps it linear.
func theilSen(t, y []float64) (slope, intercept float64) {
	n := len(t)
	s := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if dt := t[j] - t[i]; dt > 0 {
				if v := (y[j] - y[i]) / dt; finite(v) {
					s = append(s, v)
				}
			}
		}
	}
	slope = median(s)
	r := make([]float64, n)
	for i := range t {
		r[i] = y[i] - slope*t[i]
	}
	return slope, median(r)
}

// robustR2 is the R² of the least-squares line through the points that
// lie within five robust standard deviations (1.4826 × MAD) of the
// Theil–Sen line (a, b): a few failed reads recorded as 0, or a one-off
// spike, must not hide a steady growth.
func robustR2(t, y []float64, a, b float64) float64 {
	r := make([]float64, len(t))
	for i := range t {
		r[i] = y[i] - (a + b*t[i])
	}
	abs := make([]float64, len(r))
	for i, v := range r {
		abs[i] = math.Abs(v)
	}
	cut := 5 * 1.4826 * median(abs)
	if cut == 0 {
		return rSquared(t, y)
	}
	kt, ky := make([]float64, 0, len(t)), make([]float64, 0, len(t))
	for i := range t {
		if math.Abs(r[i]) <= cut {
			kt, ky = append(kt, t[i]), append(ky, y[i])
		}
	}
	if len(kt) < minLeakPoints {
		return rSquared(t, y)
	}
	return rSquared(kt, ky)
}

// rSquared of the ordinary least-squares line through (t, y).
func rSquared(t, y []float64) float64 {
	n := float64(len(t))
	var mt, my float64
	for i := range t {
		mt += t[i]
		my += y[i]
	}
	mt /= n
	my /= n
	var stt, syy, sty float64
	for i := range t {
		dt, dy := t[i]-mt, y[i]-my
		stt += dt * dt
		syy += dy * dy
		sty += dt * dy
	}
	if stt == 0 || syy == 0 {
		return 0
	}
	return sty * sty / (stt * syy)
}

// mannKendallZ is the Mann–Kendall statistic S normalised with the
// tie-corrected variance and continuity correction.
func mannKendallZ(y []float64) float64 {
	n := len(y)
	var s int
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	nf := float64(n)
	v := nf * (nf - 1) * (2*nf + 5)
	sorted := slices.Clone(y)
	slices.Sort(sorted)
	for i := 0; i < n; {
		j := i + 1
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		if tg := float64(j - i); tg > 1 {
			v -= tg * (tg - 1) * (2*tg + 5)
		}
		i = j
	}
	v /= 18
	if v <= 0 {
		return 0
	}
	switch {
	case s > 0:
		return float64(s-1) / math.Sqrt(v)
	case s < 0:
		return float64(s+1) / math.Sqrt(v)
	}
	return 0
}

// median of s, ignoring NaNs, reordering s in place. It is NaN when no
// number is left.
func median(s []float64) float64 {
	s = slices.DeleteFunc(s, math.IsNaN)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	k := n / 2
	hi := selectK(s, k)
	if n%2 == 1 {
		return hi
	}
	// After selectK, s[:k] holds the k smallest: the lower middle is their max.
	lo := s[0]
	for _, v := range s[1:k] {
		lo = max(lo, v)
	}
	return (lo + hi) / 2
}

// selectK partially sorts s so that s[k] is the k-th smallest element and
// everything before it is not larger (Hoare's quickselect, median-of-three
// pivots so that already sorted input stays linear).
func selectK(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		p := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}
