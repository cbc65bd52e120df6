package spec

import (
	"math"
	"strconv"
)

// splitmix64 is the SplitMix64 generator (Steele, Lea, Flood 2014). It is
// written out here rather than taken from math/rand so that the draws of a
// random sweep depend only on its seed, never on the Go version: the
// algorithm is fixed by this file and documented in hcl/README.md.
type splitmix64 struct{ state uint64 }

func (r *splitmix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newParamStream returns the generator for one parameter of a random
// sweep. Each parameter has its own stream, derived from the sweep seed and
// the parameter's name (FNV-1a), so adding a parameter does not change the
// draws of the others and raising samples keeps the earlier draws.
func newParamStream(seed int64, name string) *splitmix64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	r := &splitmix64{state: uint64(seed) ^ h}
	r.next() // decorrelate nearby seeds before the first draw
	return r
}

// float64 returns a uniform draw in [0, 1) with 53 random bits.
func (r *splitmix64) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}

// intn returns a uniform draw in [0, n) without modulo bias (rejection of the
// top partial range). n must be > 0.
func (r *splitmix64) intn(n uint64) uint64 {
	limit := math.MaxUint64 - math.MaxUint64%n
	for {
		x := r.next()
		if x < limit {
			return x % n
		}
	}
}

// roundSig rounds x to 6 significant decimal digits. Random draws are
// rounded so that they render readably ("0.000316" rather than
// "0.00031622776601683794") and so that a last-bit difference between
// platforms' math.Log/math.Exp cannot change the value a run sees.
func roundSig(x float64) string {
	s := strconv.FormatFloat(x, 'g', 6, 64)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
