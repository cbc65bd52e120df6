package report

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// FuzzUsageReport: a usage summary is written by the agent of whichever
// node ran the run, and read back from Nomad Variables. Decoded from
// arbitrary JSON (series of different lengths, NaN-free but huge or
// negative values, times out of order, thousands of points), it must give
// a report, its text and its plot without panicking.
func FuzzUsageReport(f *testing.F) {
	good, _ := json.Marshal(usage(64, time.Hour, func(i int, _ float64) float64 { return 0.5 },
		func(i int, _ float64) float64 { return float64(i) * 1e6 }, func(i int, _ float64) float64 { return float64(i) * 1e7 }))
	f.Add(good)
	f.Add([]byte(`{"start":"2026-01-01T00:00:00Z","end":"2025-01-01T00:00:00Z","samples":-5,"gpus":-1,"timeline":{"t":[3,1,2],"gpu_util":[1e308,-1e308],"rss_bytes":[1,2,3,4,5]}}`))
	f.Add([]byte(`{"timeline":{"t":[` + strings.Repeat("0,", 2000) + `0],"gpu_mem_bytes":[1]},"xids":[{"code":18446744073709551615}]}`))
	f.Add([]byte(`{"gpu_util_mean":1e300,"mem_limit_bytes":-9223372036854775808,"interval_s":-1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var u record.Usage
		if json.Unmarshal(raw, &u) != nil {
			return
		}
		r := triage.Triage(triage.Input{RunID: "train-1a2b3c4d", Record: testRecord(), Usage: &u})
		if err := WriteText(io.Discard, r); err != nil {
			t.Fatalf("text: %v", err)
		}
		_ = WritePNG(io.Discard, r)
	})
}
