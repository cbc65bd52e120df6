package triage

import (
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestGoal(t *testing.T) {
	for name, want := range map[string]string{
		"loss": GoalMin, "val_loss": GoalMin, "train/loss": GoalMin, "eval-error": GoalMin, "ppl": GoalMin, "step_time": GoalMin,
		"acc": GoalMax, "val_acc": GoalMax, "f1": GoalMax, "reward": GoalMax, "glossary": GoalMax, "lossless_ratio": GoalMax,
	} {
		if got := Goal(name, nil); got != want {
			t.Errorf("Goal(%q) = %s, want %s", name, got, want)
		}
	}
	if Goal("loss", map[string]string{"loss": GoalMax}) != GoalMax {
		t.Error("-best does not override the default")
	}
	g, err := ParseGoals("loss=max, acc=min")
	if err != nil || g["loss"] != GoalMax || g["acc"] != GoalMin {
		t.Errorf("ParseGoals: %v %v", g, err)
	}
	for _, bad := range []string{"loss", "loss=lowest", "=min"} {
		if _, err := ParseGoals(bad); err == nil {
			t.Errorf("ParseGoals(%q) accepted", bad)
		}
	}
}

func sweepInputs() []CompareInput {
	run := func(id, lr string, loss, acc []float64) CompareInput {
		return CompareInput{ID: id, Experiment: "train", State: "complete",
			Params: []record.Param{{Name: "lr", Value: lr}, {Name: "seed", Value: "1"}},
			Usage:  &record.Usage{Metrics: []record.Metric{metric("acc", acc...), metric("loss", loss...)}}}
	}
	return []CompareInput{
		run("train-0001", "0.1", []float64{2, 1.5, 1.9}, []float64{0.5, 0.6, 0.55}),
		run("train-0002", "0.01", []float64{2, 0.8, 0.4}, []float64{0.5, 0.8, 0.9}),
		run("train-0003", "0.001", []float64{2, 1.2, 0.9}, []float64{0.5, 0.7, 0.75}),
		{ID: "train-0004", Experiment: "train", State: "failed", Params: []record.Param{{Name: "lr", Value: "1"}, {Name: "seed", Value: "1"}}},
	}
}

// TestCompare: last and best values per run (best by the metric's goal,
// from the exact extremes, not the down-sampled series), the params that
// differ apart from those every run shares, and the best run named.
func TestCompare(t *testing.T) {
	c := Compare(sweepInputs(), nil, "")
	if len(c.Varying) != 1 || c.Varying[0] != "lr" || len(c.Same) != 1 || c.Same[0] != (record.Param{Name: "seed", Value: "1"}) {
		t.Errorf("params: varying %v same %v", c.Varying, c.Same)
	}
	if c.Best == nil || c.Best.Run != "train-0002" || c.Best.Metric != "loss" || c.Best.Value != 0.4 || c.Best.Goal != GoalMin {
		t.Fatalf("best %+v", c.Best)
	}
	if v := c.Runs[0].Metrics["loss"]; v.Last.Value != 1.9 || v.Best != (record.MetricPoint{Step: 2, Value: 1.5}) {
		t.Errorf("loss of run 1: %+v", v)
	}
	if v := c.Runs[0].Metrics["acc"]; v.Best != (record.MetricPoint{Step: 2, Value: 0.6}) {
		t.Errorf("acc of run 1: %+v", v)
	}
	if len(c.Runs[3].Metrics) != 0 {
		t.Errorf("a run without metrics has %v", c.Runs[3].Metrics)
	}
	byAcc := Compare(sweepInputs(), map[string]string{"acc": GoalMin}, "acc")
	if byAcc.Best == nil || byAcc.Best.Run != "train-0001" || byAcc.Metrics[0] != (MetricGoal{Name: "acc", Goal: GoalMin, Rule: "given"}) {
		t.Errorf("acc=min: best %+v, metrics %+v", byAcc.Best, byAcc.Metrics)
	}
}
