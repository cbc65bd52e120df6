package compile

import (
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// A checkpointing run on a spot pool with a spot_fallback carries where
// it goes after too many preemptions; any other run carries nothing.
func TestJobSpotFallbackMeta(t *testing.T) {
	pools := map[string]*spec.Pool{
		"cpu":      {Name: "cpu", Spot: true, SpotFallback: "ondemand"},
		"ondemand": {Name: "ondemand", NodePool: "gpu-od"},
	}
	run := minimalRun()
	run.Experiment.Checkpoint = &spec.Checkpoint{Signal: "SIGUSR1", Grace: time.Minute, Dir: "/ckpt"}
	meta := mustJob(t, run, Options{Pools: pools}).Meta
	if meta[record.MetaSpotFallbackPool] != "ondemand" || meta[record.MetaSpotFallbackNodePool] != "gpu-od" || meta[record.MetaSpotMaxPreemptions] != "2" {
		t.Errorf("meta %v", meta)
	}
	plain := minimalRun()
	plain.Experiment.Spot = spec.SpotOK
	if meta := mustJob(t, plain, Options{Pools: pools}).Meta; meta[record.MetaSpotFallbackPool] != "" {
		t.Errorf("a run without a checkpoint got a fallback: %v", meta)
	}
}
