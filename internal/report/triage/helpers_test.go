package triage

import (
	"math/rand/v2"

	"github.com/caravan-ml/caravan/internal/report/triage/triagetest"
)

// The synthetic run the tests diagnose; internal/report's tests render the
// same one.
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
	gib  = triagetest.GiB
	mibf = float64(1 << 20)
)

// noise returns a deterministic N(0, sd) source.
func noise(seed uint64, sd float64) func() float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() float64 { return r.NormFloat64() * sd }
}
