package report

import (
	"bytes"
	"errors"
	"image/png"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

func sweepInputs() []triage.CompareInput {
	run := func(id, lr string, loss, acc []float64) triage.CompareInput {
		return triage.CompareInput{ID: id, Experiment: "train", State: "complete",
			Params: []record.Param{{Name: "lr", Value: lr}, {Name: "seed", Value: "1"}},
			Usage:  &record.Usage{Metrics: []record.Metric{metric("acc", acc...), metric("loss", loss...)}}}
	}
	return []triage.CompareInput{
		run("train-0001", "0.1", []float64{2, 1.5, 1.9}, []float64{0.5, 0.6, 0.55}),
		run("train-0002", "0.01", []float64{2, 0.8, 0.4}, []float64{0.5, 0.8, 0.9}),
		run("train-0003", "0.001", []float64{2, 1.2, 0.9}, []float64{0.5, 0.7, 0.75}),
		{ID: "train-0004", Experiment: "train", State: "failed", Params: []record.Param{{Name: "lr", Value: "1"}, {Name: "seed", Value: "1"}}},
	}
}

func TestWriteComparePNG(t *testing.T) {
	c := triage.Compare(sweepInputs(), nil, "")
	var b bytes.Buffer
	if err := WriteComparePNG(&b, c, "loss"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil || img.Bounds().Dx() < 600 {
		t.Fatalf("not a plot: %v %v", err, img)
	}
	if err := WriteComparePNG(&b, c, "nope"); !errors.Is(err, ErrNoMetric) {
		t.Errorf("a metric nobody wrote: %v", err)
	}
}
