package spec

import (
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/caravan-ml/caravan/internal/record"
)

// onStallActions are the values of on_stall.
var onStallActions = []string{record.OnStallWarn, record.OnStallStop}

// MinStallTimeout is the shortest stall_timeout: the controller judges a
// run on the agent's samples (every 5 s by default), and a shorter window
// would hold too few of them.
const MinStallTimeout = 10 * time.Second

// decodeStall reads stall_timeout or on_stall into s.
func (l *loader) decodeStall(a *hcl.Attribute, s *settings) {
	if a.Name == "stall_timeout" {
		v, ok := l.attrDuration(a)
		switch {
		case !ok:
		case v < MinStallTimeout:
			l.add(diagErr(a.Expr.Range(), "stall_timeout too short",
				"stall_timeout is %s; a run is judged stalled on its usage samples, so give at least %s (minutes suit training: \"15m\").", v, MinStallTimeout))
		default:
			s.stallTimeout.put(v, a.Expr.Range())
		}
		return
	}
	v, ok := l.attrString(a)
	switch {
	case !ok:
	case !slices.Contains(onStallActions, v):
		l.add(diagErr(a.Expr.Range(), "Invalid on_stall",
			"on_stall %q is not an action: use \"warn\" (mark the run stalled; it keeps its GPUs) or \"stop\" (mark it and stop it).%s", v, suggest(v, onStallActions)))
	default:
		s.onStall.put(v, a.Expr.Range())
	}
}

// mergeStall applies stall_timeout and on_stall from the experiment over
// the defaults. on_stall means nothing without a stall_timeout: written in
// the experiment itself without one it is an error (an attribute that does
// nothing would mislead), inherited from the defaults it is ignored.
func (l *loader) mergeStall(e *Experiment, own, d *settings) {
	e.StallTimeout = own.stallTimeout.or(d.stallTimeout).v
	on := own.onStall.or(d.onStall)
	switch {
	case e.StallTimeout > 0 && on.set:
		e.OnStall = on.v
	case e.StallTimeout > 0:
		e.OnStall = record.OnStallWarn
	case own.onStall.set:
		l.add(diagErr(own.onStall.rng, "on_stall without stall_timeout",
			"on_stall says what to do with a stalled run, but experiment %q sets no stall_timeout, so no run of it is ever judged stalled. Add stall_timeout = \"15m\" (or remove on_stall).", e.Name))
	}
}
