package autoscale

import (
	"context"
	"time"
)

// checkLeader acquires or renews the lock; losing it stops acting at once.
func (l *Loop) checkLeader(ctx context.Context) {
	defer l.ensurePublished(ctx)
	if l.cfg.Leader == nil {
		return
	}
	was := l.leader
	if l.leader {
		if err := l.cfg.Leader.Renew(ctx); err != nil {
			l.log.Warn("lost the autoscaler lock; standing by", "err", err)
			l.leader = false
		}
	} else {
		ok, err := l.cfg.Leader.TryAcquire(ctx)
		if err != nil {
			l.log.Warn("cannot read the autoscaler lock", "err", err)
		}
		l.leader = ok
	}
	if l.leader && !was {
		l.log.Info("holding the autoscaler lock; acting", "holder", l.cfg.Holder)
		// Another process may have acted since we last looked.
		for _, p := range l.pools {
			p.loaded = false
		}
		l.Kick(time.Now())
	}
	if l.leader {
		l.met.leader.Set(1)
	} else {
		l.met.leader.Set(0)
	}
}
