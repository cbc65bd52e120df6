package decide

import (
	"math"
	"time"
)

// borrowed is h as a decision starts from it: the mark maps stay the
// caller's until the first write copies them. Most decisions change no
// mark, and copying the maps on every call dominated the simulator's
// profile.
func (h History) borrowed() History {
	h.shared = true
	return h
}

// own copies the mark maps before the first write, so the caller's
// History is never changed.
func (m *History) own() {
	if !m.shared {
		return
	}
	c := make(map[string]time.Time, len(m.Cordoned)+1)
	for k, v := range m.Cordoned {
		c[k] = v
	}
	d := make(map[string]time.Time, len(m.Draining)+1)
	for k, v := range m.Draining {
		d[k] = v
	}
	r := make(map[string]time.Time, len(m.Removing)+1)
	for k, v := range m.Removing {
		r[k] = v
	}
	var mv map[string]time.Time
	if m.Moved != nil {
		mv = make(map[string]time.Time, len(m.Moved)+1)
		for k, v := range m.Moved {
			mv[k] = v
		}
	}
	m.Cordoned, m.Draining, m.Removing, m.Moved, m.shared = c, d, r, mv, false
}

func (m *History) cordon(n string, at time.Time) { m.own(); m.Cordoned[n] = at }
func (m *History) drain(n string, at time.Time)  { m.own(); m.Draining[n] = at }
func (m *History) remove(n string, at time.Time) { m.own(); m.Removing[n] = at }

func (m *History) uncordon(n string) {
	if _, ok := m.Cordoned[n]; ok {
		m.own()
		delete(m.Cordoned, n)
	}
}

func (m *History) undrain(n string) {
	if _, ok := m.Draining[n]; ok {
		m.own()
		delete(m.Draining, n)
	}
}

func (m *History) unremove(n string) {
	if _, ok := m.Removing[n]; ok {
		m.own()
		delete(m.Removing, n)
	}
}

// observeDemand folds the current number of busy GPUs into the decaying
// peak.
func (m *History) observeDemand(now time.Time, busy float64, halfLife time.Duration) {
	if !m.DemandAt.IsZero() && halfLife > 0 && now.After(m.DemandAt) {
		m.Demand *= math.Exp2(-now.Sub(m.DemandAt).Seconds() / halfLife.Seconds())
	}
	if busy > m.Demand {
		m.Demand = busy
	}
	m.DemandAt = now
}

// warmBuffer is how many free GPUs the policy keeps on live nodes.
func (p Policy) warmBuffer(m History) int {
	if m.Demand < 0.5 {
		return 0
	}
	b := int(math.Ceil(p.WarmFraction * m.Demand))
	return max(b, p.WarmMinGPUs)
}

// bufferShrinksAt is when the decaying demand in m makes warmBuffer drop
// below b; zero if it never does (WarmMinGPUs holds it up) or cannot be
// computed.
func (p Policy) bufferShrinksAt(m History, b int) time.Time {
	if p.DemandHalfLife <= 0 || m.Demand <= 0 || b <= p.WarmMinGPUs && m.Demand >= 0.5 && p.WarmMinGPUs > 0 {
		return time.Time{}
	}
	// Demand must fall to the level where ceil(WarmFraction×Demand) is
	// b-1, or under 0.5 when that empties the buffer.
	target := 0.5
	if b > 1 && p.WarmFraction > 0 {
		target = math.Max(float64(b-1)/p.WarmFraction, 0.5)
	}
	if m.Demand <= target {
		return time.Time{}
	}
	halves := math.Log2(m.Demand / target)
	return m.DemandAt.Add(time.Duration(halves*float64(p.DemandHalfLife)) + time.Second)
}

// ScalingIn reports whether caravan is scaling the node in: drained, or
// out of the target and waiting for Terraform to destroy it.
func (h History) ScalingIn(name string) bool {
	_, draining := h.Draining[name]
	_, removing := h.Removing[name]
	return draining || removing
}
