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
