package triage

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The figures in findings and in the renderers of internal/report are
// written by the same functions, so that a report says one thing one way.

// Human writes a duration the way people say it: "6ms", "42s", "3m 20s",
// "2h 13m", "3d 4h".
func Human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return twoUnits(int(d.Minutes()), "m", int(d.Seconds())%60, "s")
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return twoUnits(int(d.Hours()), "h", int(d.Minutes())%60, "m")
	}
	d = d.Round(time.Hour)
	return twoUnits(int(d.Hours())/24, "d", int(d.Hours())%24, "h")
}

func twoUnits(a int, au string, b int, bu string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, au)
	}
	return fmt.Sprintf("%d%s %d%s", a, au, b, bu)
}

// BytesIEC writes a byte count in binary units: "512 MiB", "38.2 GiB".
func BytesIEC(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(b) >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return trimZero(fmt.Sprintf("%.1f", b)) + " " + units[i]
}

// MiB writes a MiB figure, switching to GiB from 1024 MiB.
func MiB(m float64) string { return BytesIEC(m * (1 << 20)) }

// Hours writes GPU-hours with the precision the size deserves.
func Hours(h float64) string {
	switch {
	case h < 1:
		return fmt.Sprintf("%.2f", h)
	case h < 100:
		return fmt.Sprintf("%.1f", h)
	}
	return fmt.Sprintf("%.0f", h)
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// seconds is a duration of s seconds.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
