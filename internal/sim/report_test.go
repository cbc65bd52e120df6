package sim

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

func TestReportGolden(t *testing.T) {
	jobs := syntheticTrace(300, 11)
	pool := &spec.Pool{Name: "gpu", GPUsPerNode: 8, IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute, PricePerHour: 32.77}
	rep, err := ComparePools(map[string]*spec.Pool{"gpu": pool}, "gpu", jobs, 3*time.Minute, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "report.txt.golden"), buf.Bytes())
	// The JSON carries full-precision floats, so it is checked for shape,
	// not against a golden file.
	js, err := json.Marshal(rep.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]map[string]any
	_ = json.Unmarshal(js, &back)
	for _, p := range Policies {
		if _, ok := back[p]["paid_gpu_hours"]; !ok {
			t.Errorf("JSON lacks %s.paid_gpu_hours: %s", p, js)
		}
	}
}

// The instant-machines figure pays only for placement: nodes appear the
// moment work queues and leave the moment they are empty.
func TestInstantMachines(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name string
		jobs []Job
		want float64 // paid/used
	}{
		// One node from 0 to 1h30 holds both 4-GPU jobs: 12 paid, 8 used.
		{"overlap shares a node", []Job{{ID: "a", Duration: hour, GPUs: 4}, {ID: "b", Submit: 30 * time.Minute, Duration: hour, GPUs: 4}}, 1.5},
		// Apart, each pays a whole node for its hour: 16 paid, 8 used,
		// with no boot or idle time added.
		{"apart, no idle time", []Job{{ID: "a", Duration: hour, GPUs: 4}, {ID: "b", Submit: 2 * hour, Duration: hour, GPUs: 4}}, 2},
		// A whole node's job pays exactly what it uses.
		{"full node", []Job{{ID: "a", Duration: hour, GPUs: 8}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := ComparePools(map[string]*spec.Pool{"gpu": testPool()}, "gpu", tc.jobs, 3*time.Minute, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !near(rep.InstantMachines, tc.want) {
				t.Errorf("instant machines paid/used = %.4f, want %.4f", rep.InstantMachines, tc.want)
			}
		})
	}
}
