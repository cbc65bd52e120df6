package spec

import "github.com/caravan-ml/caravan/internal/record"

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
