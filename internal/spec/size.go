package spec

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// sizeUnits maps a lower-cased unit suffix to its number of bytes. Decimal
// (SI) units are powers of 1000 and binary (IEC) units powers of 1024, as in
// Nomad, Docker and Kubernetes.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"pb":  1000 * 1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"pib": 1 << 50,
}

// ParseSize parses a byte size such as "512MiB", "40GiB", "1.5TB" or "1TiB"
// and returns it in bytes. Units are case-insensitive: B, KB, MB, GB, TB, PB
// are powers of 1000 and KiB, MiB, GiB, TiB, PiB powers of 1024; a bare
// number is bytes. Fractions are allowed ("1.5GiB") and rounded to the
// nearest byte. Negative sizes and sizes above 2^63-1 bytes are errors.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size: write a number and a unit, e.g. \"16GiB\"")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("invalid size %q: it must start with a non-negative number, e.g. \"512MiB\"", s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q; use B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB", s, t[i:])
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q: %q is not a number", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	// Round half up to whole bytes.
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("invalid size %q: larger than %d bytes", s, int64(math.MaxInt64))
	}
	return n.Int64(), nil
}

// parseDuration is time.ParseDuration with messages that say how to fix the
// common mistakes (days, missing unit, negative values).
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		hint := "use a Go duration such as \"90m\", \"12h\" or \"1h30m\" (units ns, us, ms, s, m, h)"
		if strings.HasSuffix(strings.TrimSpace(s), "d") {
			hint = "days are not a unit; write hours instead, e.g. \"48h\" for two days"
		}
		return 0, fmt.Errorf("invalid duration %q: %s", s, hint)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: it must be positive", s)
	}
	return d, nil
}
