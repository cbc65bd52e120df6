package triage

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// FuzzTriageStderr feeds arbitrary stderr and event text through the
// classifier: it must never panic, always name a reason, and quote only
// lines that occur in its input.
func FuzzTriageStderr(f *testing.F) {
	for _, s := range []string{
		"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n",
		"NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n",
		"xid 999999999999999999999\nXID error\n",
		"\x00\xff\n\n\r\n",
		strings.Repeat("x", 5000),
	} {
		f.Add(s, "OOM Killed")
	}
	f.Fuzz(func(t *testing.T, stderr, msg string) {
		a := alloc("a1", 1, failed, run, time.Hour, 1, terminated(time.Hour, 1, false), ev(api.TaskKilling, time.Hour, msg, nil))
		r := Triage(Input{Record: testRecord(), Allocs: []*api.Allocation{a}, Stderr: stderr})
		if r.Reason.Kind == "" || r.Reason.Summary == "" {
			t.Fatalf("no reason for stderr %q", stderr)
		}
		for _, f := range append([]Finding{r.Reason}, r.Findings...) {
			if f.Kind != KindCUDAOOM {
				continue
			}
			for _, e := range f.Evidence {
				if !strings.Contains(stderr, e) {
					t.Fatalf("evidence %q is not in stderr %q", e, stderr)
				}
			}
		}
	})
}

// FuzzFitLeak fits arbitrary series (NaNs, infinities, huge values,
// unordered times): no panic, and a leak verdict always has a positive,
// finite slope.
func FuzzFitLeak(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 1e9)
	f.Add(make([]byte, 200), 0.0)
	f.Fuzz(func(t *testing.T, raw []byte, limit float64) {
		var ts, ys []float64
		for i := 0; i+16 <= len(raw) && len(ts) < 300; i += 16 {
			ts = append(ts, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
			ys = append(ys, math.Float64frombits(binary.LittleEndian.Uint64(raw[i+8:])))
		}
		l := FitLeak(SeriesRSS, ts, ys, limit)
		if l.Leaking && (!(l.SlopeBytesPerSecond > 0) || math.IsInf(l.SlopeBytesPerSecond, 0)) {
			t.Fatalf("leak with slope %v", l.SlopeBytesPerSecond)
		}
	})
}
