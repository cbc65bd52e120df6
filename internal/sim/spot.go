package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"
)

// Spot makes a simulated pool's machines spot or preemptible ones: cheaper,
// and taken back by the cloud at random.
type Spot struct {
	// Price is what a spot machine costs as a fraction of the pool's
	// on-demand price (0 < Price ≤ 1): spot prices follow on-demand ones
	// per machine type, so a fraction carries across pools and clouds.
	Price float64
	// PerDay is the mean number of preemptions of one machine per day of
	// its life: each machine is preempted after an exponentially
	// distributed time with this rate.
	PerDay float64
	// Seed seeds the draws: the same seed replays the same preemptions
	// for the same sequence of machines.
	Seed uint64
}

// Validate says what is wrong with s, if anything.
func (s *Spot) Validate() error {
	if s == nil {
		return nil
	}
	if s.Price <= 0 || s.Price > 1 {
		return fmt.Errorf("spot price %g is not a fraction of the on-demand price: give one in (0, 1], e.g. 0.35", s.Price)
	}
	if s.PerDay < 0 {
		return fmt.Errorf("preemptions per day %g is negative: give 0 or more, e.g. 1.5", s.PerDay)
	}
	return nil
}

// spotState is a cluster's spot machinery: its draws and what the
// preemptions cost.
type spotState struct {
	rng    *rand.Rand
	perDay float64
	// replace makes the cloud start a new machine for each preempted one
	// (a fixed-size group, the static policy); autoscalers replace lost
	// machines themselves.
	replace     bool
	preemptions int
	// lost is the GPU time preemptions threw away: the checkpoint
	// overhead of work that moved, the run time of work that restarts.
	lost time.Duration
}

func newSpotState(s *Spot, replace bool) *spotState {
	if s == nil {
		return nil
	}
	return &spotState{rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15)), perDay: s.PerDay, replace: replace}
}

// draw is when a machine that registers at now will be preempted (zero:
// never).
func (s *spotState) draw(now time.Time) time.Time {
	if s == nil || s.perDay <= 0 {
		return time.Time{}
	}
	life := time.Duration(s.rng.ExpFloat64() / s.perDay * float64(24*time.Hour))
	return now.Add(max(life, time.Second))
}

// nextPreemption is the earliest preemption still to come (zero: none).
func (c *cluster) nextPreemption() time.Time {
	var t time.Time
	for _, n := range c.nodes {
		if !n.preemptAt.IsZero() && (t.IsZero() || n.preemptAt.Before(t)) {
			t = n.preemptAt
		}
	}
	return t
}

// preempt takes back every node whose time has come. Its work leaves as
// the agent's drain with the notice's deadline makes it: a checkpointing
// run saves its state within the notice and queues again with the
// checkpoint overhead still to run; any other run starts again from the
// beginning. The machine is paid until it is taken.
func (c *cluster) preempt(now time.Time) {
	for i := 0; i < len(c.nodes); i++ {
		n := c.nodes[i]
		if n.preemptAt.IsZero() || n.preemptAt.After(now) {
			continue
		}
		for len(n.jobs) > 0 {
			j := n.jobs[0]
			heap.Remove(&c.running, j.hidx)
			c.release(j, now)
			if j.nodes == 1 && c.overhead > 0 {
				j.left = j.end.Sub(now) + c.overhead
				c.spot.lost += c.overhead * time.Duration(j.gpus)
			} else {
				c.spot.lost += now.Sub(j.start) * time.Duration(j.gpus*j.nodes)
				j.left = j.Duration
			}
			j.requeued = now
			c.queue = append(c.queue, j)
		}
		c.spot.preemptions++
		c.paidNode += now.Sub(n.requestedAt)
		c.nodes = append(c.nodes[:i], c.nodes[i+1:]...)
		i--
		if c.spot.replace {
			c.create(n.name+"r", now)
		}
	}
}
