package autoscale

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/terraform"
)

// The lock, the Terraform handle, the faults at the Nomad boundary and the
// reports of the loop's property test (property_test.go).

// loopStats counts what the sequences went through.
type loopStats struct {
	sequences, steps, leaseLost, recordFailed, readFailed, applyFailed, tainted, misplaced, operator, raced, lost int
}

// leaseState is the lock both loops contend for.
type leaseState struct {
	holder string
	token  uint64
}

// fakeLeader is one loop's view of leaseState.
type fakeLeader struct {
	st *leaseState
	me string
}

func (f fakeLeader) TryAcquire(context.Context) (bool, error) {
	if f.st.holder == "" {
		f.st.holder = f.me
		f.st.token++
	}
	return f.st.holder == f.me, nil
}

func (f fakeLeader) Renew(context.Context) error {
	if f.st.holder != f.me {
		return errors.New("renew lease: another process took it")
	}
	return nil
}

func (f fakeLeader) Release(context.Context) error {
	if f.st.holder == f.me {
		f.st.holder = ""
	}
	return nil
}

func (f fakeLeader) Token() uint64 {
	if f.st.holder == f.me {
		return f.st.token
	}
	return 0
}

// fencedProv is one loop's handle on the shared Terraform state; it
// checks that an apply only runs for the lock's holder.
type fencedProv struct {
	*memProv
	pw *pworld
	me string
}

func (p fencedProv) ApplyWith(ctx context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	if req.Fence == nil {
		p.pw.t.Fatalf("%s applies without a fence", p.me)
	}
	if err := req.Fence(ctx); err != nil {
		return terraform.ApplyResult{}, err
	}
	if p.pw.lease.holder != p.me {
		p.pw.t.Fatalf("%s applies although %q holds the lock", p.me, p.pw.lease.holder)
	}
	req.Fence = nil
	return p.memProv.ApplyWith(ctx, req)
}

// note keeps an event for the failure message.
func (w *pworld) note(format string, args ...any) {
	w.trace = append(w.trace, w.clk.Now().Format("15:04:05")+" "+fmt.Sprintf(format, args...))
}

func (s *loopStats) add(o loopStats) {
	s.sequences += o.sequences
	s.steps += o.steps
	s.leaseLost += o.leaseLost
	s.recordFailed += o.recordFailed
	s.readFailed += o.readFailed
	s.applyFailed += o.applyFailed
	s.tainted += o.tainted
	s.misplaced += o.misplaced
	s.operator += o.operator
	s.raced += o.raced
	s.lost += o.lost
}

// describe is the world's state, for a failure message.
func (w *pworld) describe() string {
	var b strings.Builder
	w.nc.mu.Lock()
	for _, n := range w.nc.nodes {
		fmt.Fprintf(&b, "  node %s pool=%s status=%s eligible=%v drain=%v allocs=%d\n", n.name, n.pool, n.status, n.eligible, n.drain, n.active())
	}
	w.nc.mu.Unlock()
	fmt.Fprintf(&b, "  lease: %+v; booting: %+v\n", *w.lease, w.boot)
	if w.lease.holder != "" {
		p := w.loops[w.lease.holder].pools["gpu"]
		fmt.Fprintf(&b, "  leader %s: state %v requested %v history %+v\n  last %+v\n  terraform %+v\n", w.lease.holder, p.inState, p.requested, p.history, p.last, p.tf)
	}
	return b.String()
}

// hook is every Nomad call: faults, and the lock lost mid-step.
func (w *pworld) hook(call string) error {
	if isNodeOp(call) {
		w.note("caravan: %s", call)
	}
	if w.inHook || w.calm {
		return nil
	}
	if strings.HasPrefix(call, "put "+PoolRecordPrefix) && w.chance(15) {
		w.stats.recordFailed++
		return errors.New("write variable: 500 raft apply failed")
	}
	if (call == "nodes" || call == "jobs") && w.chance(40) {
		w.stats.readFailed++
		return errors.New("list: 503 no cluster leader")
	}
	if call == "jobs" && w.chance(10) {
		// Between the observation (nodes and their allocations are
		// read) and the apply, an operator re-enables a node and work
		// lands on it.
		w.stats.raced++
		w.inHook = true
		w.operate(true)
		w.seq++
		w.nc.submit(fmt.Sprintf("late-%d", w.seq), "gpu", 1, 1)
		w.inHook = false
	}
	if w.lease.holder != "" && w.chance(60) {
		w.takeOver()
		if isNodeOp(call) {
			// A node operation cannot be fenced by a token; the loop
			// sends one only within half a TTL of a renewal, bounded by
			// a quarter of it, so none is still on its way when a
			// standby takes over, a TTL after the last renewal: this
			// one never reached Nomad.
			return context.Canceled
		}
	}
	return nil
}

func isNodeOp(call string) bool {
	return strings.HasPrefix(call, "eligibility ") || strings.HasPrefix(call, "drain ") || strings.HasPrefix(call, "canceldrain ")
}

// takeOver moves the lock to the other loop in the middle of the
// holder's step, as when the holder stalls past the TTL: the holder's
// next renewal fails, and the other acquires and acts before the old
// holder's step goes on.
func (w *pworld) takeOver() {
	w.inHook = true
	defer func() { w.inHook = false }()
	w.stats.leaseLost++
	old := w.lease.holder
	next := "a"
	if old == "a" {
		next = "b"
	}
	w.note("lock moves from %s to %s", old, next)
	w.lease.holder, w.lease.token = next, w.lease.token+1
	ctx := context.Background()
	w.loops[old].tickLease(ctx)
	w.loops[next].tickLease(ctx)
	_ = w.loops[next].Step(ctx, time.Now())
}

// checkWrite: no pool record write of a displaced leader lands after a
// newer leader's.
func (w *pworld) checkWrite(path string, items map[string]string) {
	if path != PoolRecordPrefix+"gpu" {
		return
	}
	// The record is large; only its token is read.
	raw := items[recordItem]
	var token uint64
	if i := strings.Index(raw, `"leader_token":`); i >= 0 {
		_, _ = fmt.Sscan(raw[i+len(`"leader_token":`):], &token)
	}
	if token < w.token {
		w.t.Fatalf("%v: a displaced leader (token %d) wrote the pool record after a leader with token %d did", w.clk.Now(), token, w.token)
	}
	w.token = token
}
