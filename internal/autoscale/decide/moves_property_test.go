package decide

import "time"

// move is Nomad carrying out a Move: each allocation named is signalled
// and leaves its node some time within its grace. What the safety
// promise forbids fails the test: stopping an allocation that cannot
// checkpoint, or one caravan asked to move less than its grace ago.
func (f *fworld) move(n *wNode, work []Alloc) {
	for _, w := range work {
		k := -1
		for i, a := range n.allocs {
			if a.id == w.ID {
				k = i
			}
		}
		if k < 0 {
			continue // gone since the decision was made
		}
		a := &n.allocs[k]
		if a.req.grace <= 0 {
			f.t.Fatalf("%v: a move stops allocation %s on %s, whose run cannot checkpoint", f.now, a.id, n.Name)
		}
		if at, ok := f.stopped[a.id]; ok && f.now.Sub(at) < a.req.grace {
			f.t.Fatalf("%v: allocation %s on %s asked to move again %s after the last time, within its grace %s", f.now, a.id, n.Name, f.now.Sub(at), a.req.grace)
		}
		f.stopped[a.id] = f.now
		f.stats.moves++
		if a.stopAt.IsZero() {
			a.stopAt = f.now.Add(time.Duration(f.r.Int64N(int64(a.req.grace) + 1)))
		}
	}
}
