package autoscale

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// Writing the autoscaler's records. Every write is a check-and-set
// against the modify index this process last read or wrote, and the pool
// record carries the leadership's fencing token: a process displaced by a
// new leader (which claims each record, see claim, before it acts) finds
// its next write refused, and stops.

// saveEvery throttles record writes when nothing but the accounting moved.
const saveEvery = 30 * time.Second

// save writes the pool record (and the day's cost record) when something
// changed, or every saveEvery for the accounting; force writes now. It
// fails when the record could not be written, or when this process no
// longer leads.
func (l *Loop) save(ctx context.Context, p *poolRun, force bool) error {
	t := l.active
	if l.cfg.DryRun {
		return nil
	}
	if t == nil || t.ctx.Err() != nil {
		return errNotLeading
	}
	now := l.cfg.Now()
	if !force && !p.dirty && now.Sub(p.recordSaved) < saveEvery {
		return nil
	}
	if err := l.writeRecord(ctx, p, t, l.record(p, now)); err != nil {
		l.log.Warn("could not write the pool record", "pool", p.name, "err", err)
		return err
	}
	p.recordSaved, p.dirty = now, false
	if force || now.Sub(p.costSaved) >= saveEvery {
		l.saveCost(ctx, p, t)
	}
	return nil
}

// writeRecord writes r as p's record in term t. A lost check-and-set is
// told apart: a record written by a later leadership means this process
// was displaced, and t ends; anything else (an answer lost after a write
// that succeeded, an operator's purge) makes the pool load again from
// what is stored.
func (l *Loop) writeRecord(ctx context.Context, p *poolRun, t *term, r PoolRecord) error {
	r.LeaderToken = t.token
	path := PoolRecordPrefix + p.name
	idx, err := saveJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, path, r, int64(p.recordIndex))
	if err == nil {
		p.recordIndex = idx
		return nil
	}
	if !errors.Is(err, nomad.ErrConflict) {
		return err
	}
	cur, ok, _, rerr := loadPoolRecord(ctx, l.cfg.Nomad, l.cfg.Namespace, p.name)
	if rerr != nil {
		return fmt.Errorf("%w; then: %w", err, rerr)
	}
	p.loaded = false
	if ok && l.cfg.Leader != nil && (cur.LeaderToken > t.token || cur.LeaderToken == t.token && cur.Holder != l.cfg.Holder) {
		l.endTerm(t, fmt.Sprintf("%s wrote the pool record of %s under a later lock (token %d, ours %d)", cur.Holder, p.name, cur.LeaderToken, t.token))
		return fmt.Errorf("%w: %s leads now", errNotLeading, cur.Holder)
	}
	return fmt.Errorf("%s changed since this process read it; reading it again: %w", path, err)
}

// claim writes p's record, as loaded, under term t before t acts on the
// pool: from then on, a displaced leader's write of it is refused.
func (l *Loop) claim(ctx context.Context, p *poolRun, t *term, r PoolRecord, found bool, now time.Time) error {
	if l.cfg.DryRun {
		return nil
	}
	if !found {
		r = l.record(p, now)
	}
	r.Holder, r.Updated = l.cfg.Holder, now
	if err := l.writeRecord(ctx, p, t, r); err != nil {
		return fmt.Errorf("pool %q: take over the pool record: %w", p.name, err)
	}
	return nil
}

// saveCost writes the day's cost record. A lost check-and-set means
// another process wrote it: its figures are taken as they are, and what
// this process counted since its last write is dropped rather than
// counted twice.
func (l *Loop) saveCost(ctx context.Context, p *poolRun, t *term) {
	if p.cost == nil || l.cfg.DryRun || t.ctx.Err() != nil {
		return
	}
	path := costPath(p.name, p.cost.Date)
	idx, err := saveJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, path, p.cost, int64(p.costIndex))
	if errors.Is(err, nomad.ErrConflict) {
		var c CostRecord
		if ok, cidx, rerr := loadJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, path, &c); rerr == nil && ok {
			p.cost, p.costIndex = &c, cidx
		}
	}
	if err != nil {
		l.log.Warn("could not write the cost record", "pool", p.name, "err", err)
		return
	}
	p.costIndex = idx
	p.costSaved = l.cfg.Now()
}
