package compile

import (
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// TestStallMetaLeavesIdentity: stall_timeout and on_stall reach the job's
// meta, where the controller reads them, and leave the run's ID alone:
// changing how a run is watched re-runs nothing.
func TestStallMetaLeavesIdentity(t *testing.T) {
	plain := fullRun()
	watched := fullRun()
	cp := *watched.Experiment
	cp.StallTimeout, cp.OnStall = 15*time.Minute, record.OnStallStop
	watched.Experiment = &cp
	a, err := Job(plain, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Job(watched, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if *a.ID != *b.ID {
		t.Errorf("stall settings changed the run ID: %s vs %s", *a.ID, *b.ID)
	}
	if _, ok := a.Meta[record.MetaStallTimeout]; ok {
		t.Errorf("a run without stall_timeout has %s", record.MetaStallTimeout)
	}
	if b.Meta[record.MetaStallTimeout] != "15m0s" || b.Meta[record.MetaOnStall] != "stop" {
		t.Errorf("meta: %s=%q %s=%q", record.MetaStallTimeout, b.Meta[record.MetaStallTimeout], record.MetaOnStall, b.Meta[record.MetaOnStall])
	}
}
