package sim

import (
	"math"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// decider drives a decide.Policy exactly as the autoscaler loop does:
// build the pool's State, decide, apply, carry the history over, and decide
// again at once when the decision changed something (a cordon then a
// removal are two decisions, as they are against Nomad).
type decider struct {
	label  string
	policy decide.Policy
	ps     decide.PoolState
}

func (d *decider) name() string { return d.label }

func (d *decider) control(c *cluster, now time.Time) (time.Time, error) {
	var wake time.Time
	for range 4 {
		c.poolState(&d.ps, now)
		dec := d.policy.DecidePool(d.ps.Pool.Name, d.ps, now)
		d.ps.History = dec.History
		wake = dec.WakeAt
		if !dec.Changed() {
			break
		}
		if err := c.apply(dec.Actions, now); err != nil {
			return wake, err
		}
		c.place(now)
		if !needsFollowUp(dec.Actions) {
			break
		}
	}
	return wake, nil
}

// static never changes the pool.
type static struct{}

func (static) name() string                                   { return "static_peak" }
func (static) control(*cluster, time.Time) (time.Time, error) { return time.Time{}, nil }

// baseline imitates the nomad-autoscaler with a target-value strategy on
// GPU utilisation: every Interval, desired = ceil(busy / (Target × GPUs
// per node)) where busy counts used and queued GPUs (the Nomad APM plugin
// reports allocated resources; queued ones are added so that it scales
// from zero at all), clamped to min/max; after any change it waits
// Cooldown. Scale-in removes only empty nodes, like its "empty" node
// selector, so it never evicts work either.
type baseline struct {
	Interval time.Duration
	Cooldown time.Duration
	Target   float64
	min, max int
	last     time.Time
	seq      int
	prefix   string
}

func (b *baseline) name() string { return "baseline" }

func (b *baseline) control(c *cluster, now time.Time) (time.Time, error) {
	tick := now.Truncate(b.Interval)
	if !tick.Equal(now) || (!b.last.IsZero() && now.Sub(b.last) < b.Cooldown) {
		nextEval := tick.Add(b.Interval)
		if tick.Equal(now) {
			nextEval = now
		}
		if !b.last.IsZero() {
			if end := b.last.Add(b.Cooldown); end.After(nextEval) {
				nextEval = end
				if t := end.Truncate(b.Interval); !t.Equal(end) {
					nextEval = t.Add(b.Interval)
				}
			}
		}
		return nextEval, nil
	}
	busy := 0
	for _, n := range c.nodes {
		busy += n.usedGPUs
	}
	for _, j := range c.queue {
		busy += j.nodes * j.gpus
	}
	count := len(c.nodes) + len(c.booting)
	desired := int(math.Ceil(float64(busy) / (b.Target * float64(c.gpn))))
	if count > 0 {
		metric := float64(busy) / float64(count*c.gpn)
		if math.Abs(metric/b.Target-1) <= 0.01 {
			desired = count
		}
	}
	desired = max(desired, b.min)
	if b.max > 0 {
		desired = min(desired, b.max)
	}
	switch {
	case desired > count:
		for range desired - count {
			b.seq++
			c.create(b.prefix+itoa(b.seq), now)
		}
		b.last = now
		return b.last.Add(b.Cooldown), nil
	case desired < count:
		n := count - desired
		removed := 0
		for i := 0; i < len(c.nodes) && removed < n; {
			if c.nodes[i].allocs == 0 {
				c.remove(c.nodes[i].name, now)
				removed++
				continue
			}
			i++
		}
		if removed > 0 {
			b.last = now
			return b.last.Add(b.Cooldown), nil
		}
	}
	return time.Time{}, nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = digits[i%10]
		i /= 10
	}
	return string(b[p:])
}

// needsFollowUp reports whether actions changed what the next decision
// sees in a way it may act on at once: a drain (the node is removed when
// empty) or an eligibility change (work may have been placed). Machines
// created or removed change nothing a decision at the same instant would
// act on, so the simulator saves that call.
func needsFollowUp(acts []decide.Action) bool {
	for _, a := range acts {
		switch a.Kind {
		case decide.Drain, decide.MarkEligible, decide.MarkIneligible:
			return true
		}
	}
	return false
}
