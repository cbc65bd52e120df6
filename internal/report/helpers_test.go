package report

import (
	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/report/triage/triagetest"
)

// The run that internal/report/triage's tests diagnose, for the renderers'
// tests of the same reports.
var (
	t0           = triagetest.T0
	readFixture  = triagetest.ReadFixture
	fixtureAlloc = triagetest.FixtureAlloc
	ev           = triagetest.Event
	terminated   = triagetest.Terminated
	alloc        = triagetest.Alloc
	testRecord   = triagetest.Record
	usage        = triagetest.Usage
	constant     = triagetest.Constant
	metric       = triagetest.Metric
	rigLeak      = triagetest.RigLeak
	stalled      = triagetest.Stalled
)

const (
	run    = api.AllocDesiredStatusRun
	stop   = api.AllocDesiredStatusStop
	failed = api.AllocClientStatusFailed
	done   = api.AllocClientStatusComplete
	gib    = triagetest.GiB
)
