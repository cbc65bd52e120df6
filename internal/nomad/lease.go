package nomad

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrLeaseLost: Renew found that another holder took the lease.
var ErrLeaseLost = errors.New("lease lost")

// Lease is a leader lease kept in a Nomad variable with check-and-set, so
// that of several processes (two `caravan autoscale`) one acts at a time.
//
// Expiry does not trust clocks across machines: the holder rewrites the
// variable every renewal (bumping its ModifyIndex), and a contender takes
// over only after it has seen the same ModifyIndex unchanged for a whole TTL
// on its own monotonic clock. So a takeover happens between TTL and
// TTL+poll interval after the holder's last renewal. Nomad's native
// variable locks would do the same; cas keeps this working with every
// Nomad version and ACL policy that allows variables:write.
//
// Each hold has a fencing token (Token): the ModifyIndex of the write that
// took the lease. Nomad's indexes only grow, so a later holder's token is
// always larger, and writes that carry it can be told apart from a
// displaced holder's. Renew is itself the check that the lease is still
// ours: a check-and-set on the index of our last write.
//
// A Lease is safe for concurrent use: the holder renews it in the
// background while its actions check it before they act.
type Lease struct {
	c      *Client
	ns     string
	path   string
	holder string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	held  bool
	index uint64 // ModifyIndex of our last write, while held
	token uint64 // ModifyIndex of the write that took the lease

	seenIndex uint64 // a contender's last observation of someone else's lease
	seenAt    time.Time
}

// NewLease prepares a lease at a variable path; holder must be unique per
// process (e.g. hostname/pid/random). Nothing is contacted yet.
func (c *Client) NewLease(namespace, path, holder string, ttl time.Duration) *Lease {
	return &Lease{c: c, ns: c.ns(namespace), path: path, holder: holder, ttl: ttl, now: time.Now}
}

// SetClock replaces time.Now (tests).
func (l *Lease) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}

// Held reports whether this process believes it holds the lease.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Token is the fencing token of the current hold, 0 when not held.
func (l *Lease) Token() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return 0
	}
	return l.token
}

// TTL is the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

func (l *Lease) items() map[string]string {
	return map[string]string{
		"holder":     l.holder,
		"ttl":        l.ttl.String(),
		"renewed_at": l.now().UTC().Format(time.RFC3339Nano),
	}
}

// TryAcquire takes the lease if it is free, released, ours, or expired
// (unchanged for a TTL, as seen by this process). It does not wait; call it
// every few seconds (TTL/3 is a good period). A lost race is (false, nil).
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		err := l.renew(ctx)
		if errors.Is(err, ErrLeaseLost) {
			return false, nil // someone else holds it now: we are a standby
		}
		return l.held, err
	}
	v, err := l.c.Variable(ctx, l.ns, l.path)
	switch {
	case errors.Is(err, ErrNotFound):
		return l.write(ctx, 0)
	case err != nil:
		return false, err
	}
	if v.Items["holder"] == l.holder {
		return l.write(ctx, int64(v.ModifyIndex))
	}
	now := l.now()
	if v.ModifyIndex != l.seenIndex {
		l.seenIndex, l.seenAt = v.ModifyIndex, now
		return false, nil
	}
	if now.Sub(l.seenAt) < l.ttl {
		return false, nil
	}
	return l.write(ctx, int64(v.ModifyIndex))
}

func (l *Lease) write(ctx context.Context, cas int64) (bool, error) {
	v, err := l.c.PutVariable(ctx, l.ns, l.path, l.items(), cas)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	l.held, l.index, l.token = true, v.ModifyIndex, v.ModifyIndex
	return true, nil
}

// Renew extends a held lease. ErrLeaseLost means another process took it
// (we stalled longer than the TTL): stop acting at once.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renew(ctx)
}

func (l *Lease) renew(ctx context.Context) error {
	if !l.held {
		return fmt.Errorf("renew lease %s: %w (not held)", l.path, ErrLeaseLost)
	}
	v, err := l.c.PutVariable(ctx, l.ns, l.path, l.items(), int64(l.index))
	if errors.Is(err, ErrConflict) {
		l.held = false
		return fmt.Errorf("renew lease %s: another process took it: %w", l.path, ErrLeaseLost)
	}
	if err != nil {
		return err
	}
	l.index = v.ModifyIndex
	return nil
}

// Release gives the lease up at once (deleting the variable with cas), so
// that a standby takes over without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	l.held = false
	err := l.c.DeleteVariable(ctx, l.ns, l.path, int64(l.index))
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// LeaseInfo is what the lease variable says, for status displays.
type LeaseInfo struct {
	Holder    string
	TTL       time.Duration
	RenewedAt time.Time // the holder's clock
	Index     uint64
}

// Holder reads who holds the lease now; ErrNotFound when nobody does.
func (l *Lease) Holder(ctx context.Context) (LeaseInfo, error) {
	v, err := l.c.Variable(ctx, l.ns, l.path)
	if err != nil {
		return LeaseInfo{}, err
	}
	ttl, _ := time.ParseDuration(v.Items["ttl"])
	at, _ := time.Parse(time.RFC3339Nano, v.Items["renewed_at"])
	return LeaseInfo{Holder: v.Items["holder"], TTL: ttl, RenewedAt: at, Index: v.ModifyIndex}, nil
}
