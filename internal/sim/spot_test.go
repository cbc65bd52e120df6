package sim

import (
	"testing"
	"time"
)

// A long 1-GPU run on spot machines: a checkpointing one loses its
// checkpoint overhead per preemption, any other one what it had run; the
// trace's GPU-hours stay the used ones, and everything lost is paid.
func TestSpotPreemptions(t *testing.T) {
	jobs := []Job{{ID: "long", Submit: 0, Duration: 48 * time.Hour, GPUs: 1}}
	spot := &Spot{Price: 0.35, PerDay: 2, Seed: 7}
	run := func(overhead time.Duration, s *Spot) Result {
		t.Helper()
		r, err := Run(Config{Pool: testPool(), Boot: 3 * time.Minute, CheckpointOverhead: overhead, Spot: s}, jobs, "caravan", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ckpt := run(2*time.Minute, spot)
	if ckpt.Preemptions < 2 {
		t.Fatalf("%d preemptions over 48 h at 2 a day", ckpt.Preemptions)
	}
	if want := float64(ckpt.Preemptions) * 2 / 60; !near(ckpt.PreemptedGPUHours, want) {
		t.Errorf("checkpointing run lost %.4f GPU-h over %d preemptions, want 2 min each (%.4f)", ckpt.PreemptedGPUHours, ckpt.Preemptions, want)
	}
	restart := run(0, spot)
	if restart.Preemptions == 0 || restart.PreemptedGPUHours <= ckpt.PreemptedGPUHours {
		t.Errorf("restarting run lost %.2f GPU-h over %d preemptions, checkpointing one %.2f", restart.PreemptedGPUHours, restart.Preemptions, ckpt.PreemptedGPUHours)
	}
	for _, r := range []Result{ckpt, restart} {
		if !near(r.UsedGPUHours, 48) || r.Unscheduled != 0 || r.Violations != 0 {
			t.Errorf("used %.2f GPU-h (want the trace's 48), %d never ran, %d violations", r.UsedGPUHours, r.Unscheduled, r.Violations)
		}
		if r.PaidGPUHours < 8*(48+r.PreemptedGPUHours) || !near(r.SpotGPUHours, r.PaidGPUHours) {
			t.Errorf("paid %.2f GPU-h (spot %.2f) for 48 h run and %.2f lost on one 8-GPU machine", r.PaidGPUHours, r.SpotGPUHours, r.PreemptedGPUHours)
		}
	}
	if again := run(2*time.Minute, spot); again.Preemptions != ckpt.Preemptions || !near(again.PaidGPUHours, ckpt.PaidGPUHours) {
		t.Errorf("same seed, different replay: %d/%.3f vs %d/%.3f", again.Preemptions, again.PaidGPUHours, ckpt.Preemptions, ckpt.PaidGPUHours)
	}
	if onDemand := run(2*time.Minute, nil); onDemand.Preemptions != 0 || onDemand.SpotGPUHours != 0 || onDemand.PreemptedGPUHours != 0 {
		t.Errorf("on-demand machines preempted: %+v", onDemand)
	}
}
