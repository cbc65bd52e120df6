package autoscale

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

// TestPoolRecordStoredFormat: pool records already in Nomad Variables
// must keep loading, marks and all, and be written back in the same
// shape. testdata/pool-record-v1.json was written by an autoscaler that
// called the history "memory"; it is a fixture, never regenerated.
func TestPoolRecordStoredFormat(t *testing.T) {
	raw, err := os.ReadFile("testdata/pool-record-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	f := &recNomad{vars: map[string]map[string]string{PoolRecordPrefix + "gpu": {recordItem: string(raw)}}}
	rec, ok, err := LoadPoolRecord(context.Background(), f, "default", "gpu")
	if err != nil || !ok {
		t.Fatalf("LoadPoolRecord: ok %v, err %v", ok, err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	h := rec.History
	if h.NextIndex != 4 || h.Demand != 12.5 || !h.DemandAt.Equal(at) ||
		!h.LastScaleUp.Equal(at.Add(-time.Hour)) || !h.LastScaleDown.Equal(at.Add(-2*time.Hour)) {
		t.Errorf("history counters and times not loaded: %+v", h)
	}
	if !h.Cordoned["gpu-1"].Equal(at.Add(-time.Minute)) || !h.Draining["gpu-2"].Equal(at) || !h.Removing["gpu-3"].Equal(at.Add(-time.Second)) {
		t.Errorf("history marks not loaded: cordoned %v draining %v removing %v", h.Cordoned, h.Draining, h.Removing)
	}
	if len(rec.Last.Actions) != 2 || rec.Last.Actions[1].Kind != decide.Drain || rec.Last.Actions[1].Deadline != time.Hour {
		t.Errorf("last decision's actions not loaded: %+v", rec.Last.Actions)
	}
	out, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if out = append(out, '\n'); !bytes.Equal(out, raw) {
		t.Errorf("a loaded record is written back in another shape:\n%s", golden.Diff(string(raw), string(out)))
	}
}
