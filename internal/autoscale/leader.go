package autoscale

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errNotLeading: an action was refused because this process no longer
// holds the autoscaler lock.
var errNotLeading = errors.New("not the autoscaler leader (the lock was lost)")

// term is one leadership of this process. Every action taken in it runs
// under ctx, which ends the moment the lock is lost, and every pool record
// written in it carries token, the lease's fencing token, which grows with
// each new holder.
type term struct {
	ctx    context.Context
	cancel context.CancelFunc
	token  uint64
	// confirmed is when the lock was last known held (the start of the
	// last renewal that succeeded), on this process's monotonic clock.
	mu        sync.Mutex
	confirmed time.Time
}

func newTerm(token uint64) *term {
	ctx, cancel := context.WithCancel(context.Background())
	return &term{ctx: ctx, cancel: cancel, token: token, confirmed: time.Now()}
}

func (t *term) confirm(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at.After(t.confirmed) {
		t.confirmed = at
	}
}

// fresh reports whether the lock was confirmed within d: Nomad's node
// operations cannot be fenced by a token, so one is sent only while the
// lock is known held, with time to spare before a standby may take over.
// It is what stops a process that was frozen (a paused VM, a long GC)
// from draining or re-enabling a node after it woke up displaced.
func (t *term) fresh(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ctx.Err() == nil && time.Since(t.confirmed) < d
}

// current is the term this process leads in; nil while it stands by.
func (l *Loop) current() *term {
	l.termMu.Lock()
	defer l.termMu.Unlock()
	return l.term
}

// keepLease takes and renews the lock every LeaderPoll until ctx ends,
// whatever the loop is doing meanwhile: a step longer than the lease's
// TTL (a slow terraform init or show, slow allocation reads, an apply
// run in the step) must not let a standby take over while this process
// still acts.
func (l *Loop) keepLease(ctx context.Context) {
	tick := time.NewTicker(l.cfg.LeaderPoll)
	defer tick.Stop()
	for {
		l.tickLease(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// tickLease renews a held lock or tries to take a free one. A renewal
// that fails, for whatever reason, ends the term at once: it is bounded by
// LeaderPoll, so the process stops acting within two LeaderPolls of its
// last renewal, well before a standby may take over (a TTL after the last
// renewal it saw).
func (l *Loop) tickLease(ctx context.Context) {
	if l.cfg.Leader == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.LeaderPoll)
	defer cancel()
	if t := l.current(); t != nil {
		start := time.Now()
		err := l.cfg.Leader.Renew(cctx)
		switch {
		case err == nil:
			t.confirm(start)
		case ctx.Err() == nil:
			l.endTerm(t, fmt.Sprintf("cannot renew the autoscaler lock: %v", err))
		}
		return
	}
	start := time.Now()
	ok, err := l.cfg.Leader.TryAcquire(cctx)
	if err != nil && ctx.Err() == nil {
		l.log.Warn("cannot read the autoscaler lock", "err", err)
	}
	if !ok || ctx.Err() != nil {
		return
	}
	t := newTerm(l.cfg.Leader.Token())
	t.confirmed = start
	l.termMu.Lock()
	l.term = t
	l.termMu.Unlock()
	l.met.leader.Set(1)
	l.log.Info("holding the autoscaler lock; acting", "holder", l.cfg.Holder, "token", t.token)
	l.Kick(time.Now())
}

// endTerm stops every action of t: its context ends, so Nomad calls,
// Terraform runs and record writes in flight are abandoned.
func (l *Loop) endTerm(t *term, why string) {
	l.termMu.Lock()
	ended := l.term == t
	if ended {
		l.term = nil
	}
	l.termMu.Unlock()
	t.cancel()
	if ended {
		l.met.leader.Set(0)
		l.log.Warn("lost the autoscaler lock; stopped acting and standing by", "holder", l.cfg.Holder, "why", why)
	}
}

// fence checks, just before Terraform changes anything, that t is still
// the leadership this process holds: a check-and-set renewal of the lease
// (its modify index, as of our last write, must be unchanged). A standby
// can take over no sooner than a TTL after it, and the renewals in
// keepLease, or the end of t that their failure causes, cover the apply
// from there.
func (l *Loop) fence(ctx context.Context, t *term) error {
	if t.ctx.Err() != nil {
		return errNotLeading
	}
	if l.cfg.Leader == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.LeaderPoll)
	defer cancel()
	start := time.Now()
	if err := l.cfg.Leader.Renew(cctx); err != nil {
		l.endTerm(t, fmt.Sprintf("the lock could not be confirmed before a Terraform apply: %v", err))
		return fmt.Errorf("%w: %v", errNotLeading, err)
	}
	if tok := l.cfg.Leader.Token(); tok != t.token {
		l.endTerm(t, fmt.Sprintf("the lock was taken again under token %d", tok))
		return errNotLeading
	}
	t.confirm(start)
	return nil
}

// holds reports whether t may still send a Nomad node operation: it
// leads, and confirmed the lock within two LeaderPolls (half the lease's
// TTL with the CLI's settings). Without a lock there is nothing to check.
func (l *Loop) holds(t *term) bool {
	if l.cfg.Leader == nil {
		return t.ctx.Err() == nil
	}
	return t.fresh(2 * l.cfg.LeaderPoll)
}

// begin prepares the loop for a term it has not acted in yet: another
// process may have acted since this one last did, so every pool is read
// again (record, Terraform state, cost) and the catalogue is published
// again.
func (l *Loop) begin(t *term) {
	l.active = t
	l.published = false
	for _, p := range l.pools {
		p.loaded, p.applying, p.cost = false, false, nil
		p.misplacedWarned = map[string]bool{}
	}
}

// scoped returns ctx cut short by the end of t. The context is kept for
// as long as the same ctx and term are used, so that a background apply
// started in a step outlives the step but not the term. It is a child of
// the term's context, so that losing the lock cancels it at once, before
// the next call.
func (l *Loop) scoped(ctx context.Context, t *term) context.Context {
	if l.scope != nil && l.scope.base == ctx && l.scope.term == t {
		return l.scope.ctx
	}
	if l.scope != nil {
		l.scope.stop()
	}
	sctx, cancel := context.WithCancel(t.ctx)
	unhook := context.AfterFunc(ctx, cancel)
	l.scope = &scope{base: ctx, term: t, ctx: sctx, stop: func() { unhook(); cancel() }}
	return sctx
}

// scope is the context of the steps of one term (see scoped).
type scope struct {
	base context.Context
	term *term
	ctx  context.Context
	stop func()
}
