package nomadtest

import (
	"regexp"
	"strconv"
	"strings"
)

// Device constraints as caravan compiles them: ${device.model},
// ${device.vendor}, ${device.type} (=, !=, regexp) and
// ${device.attr.memory} (numeric comparisons with units, e.g. "40 GiB").
// A constraint on any other attribute fails, as it does in Nomad when the
// device lacks the attribute.

type devConstraint struct {
	LTarget, RTarget, Operand string
}

func (d *device) satisfies(cs []devConstraint) bool {
	for _, c := range cs {
		if !d.satisfiesOne(c) {
			return false
		}
	}
	return true
}

func (d *device) satisfiesOne(c devConstraint) bool {
	var val string
	switch c.LTarget {
	case "${device.model}":
		val = d.Name
	case "${device.vendor}":
		val = d.Vendor
	case "${device.type}":
		val = d.Type
	case "${device.attr.memory}":
		want, ok := parseMiB(c.RTarget)
		if !ok {
			return false
		}
		have := float64(d.MemoryMiB)
		switch c.Operand {
		case ">=":
			return have >= want
		case ">":
			return have > want
		case "<=":
			return have <= want
		case "<":
			return have < want
		case "=", "==", "is":
			return have == want
		case "!=", "not":
			return have != want
		}
		return false
	default:
		return false
	}
	switch c.Operand {
	case "=", "==", "is":
		return val == c.RTarget
	case "!=", "not":
		return val != c.RTarget
	case "regexp":
		re, err := regexp.Compile(c.RTarget)
		return err == nil && re.MatchString(val)
	}
	return false
}

var unitMiB = map[string]float64{
	"": 1, "b": 1.0 / (1 << 20), "kb": 1000.0 / (1 << 20), "kib": 1.0 / 1024, "mb": 1e6 / (1 << 20), "mib": 1,
	"gb": 1e9 / (1 << 20), "gib": 1024, "tb": 1e12 / (1 << 20), "tib": 1 << 20,
}

// parseMiB reads "40 GiB", "81559 MiB", "80GB" as MiB.
func parseMiB(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	n, err := strconv.ParseFloat(num, 64)
	f, ok := unitMiB[unit]
	if err != nil || !ok {
		return 0, false
	}
	return n * f, true
}
