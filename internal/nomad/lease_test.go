package nomad_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// fakeClock is advanced by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1700000000, 0)} }

func TestLeaseOneHolderTakeoverAndRelease(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	clk := newClock()
	const path = "caravan/leader/autoscale"
	a := c.NewLease("", path, "a", 15*time.Second)
	b := c.NewLease("", path, "b", 15*time.Second)
	a.SetClock(clk.now)
	b.SetClock(clk.now)

	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a acquire: %v %v", ok, err)
	}
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("b must wait: %v %v", ok, err)
	}
	// a keeps renewing: b never takes over however long it waits.
	for i := 0; i < 5; i++ {
		clk.add(10 * time.Second)
		if err := a.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.TryAcquire(ctx); ok {
			t.Fatal("b took a renewed lease")
		}
	}
	// a dies (stops renewing): b takes over once it has seen the same
	// lease unchanged for a TTL.
	if ok, _ := b.TryAcquire(ctx); ok {
		t.Fatal("b took over too early")
	}
	clk.add(16 * time.Second)
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b takeover: %v %v", ok, err)
	}
	// a wakes up: its renewal fails and says so.
	if err := a.Renew(ctx); !errors.Is(err, nomad.ErrLeaseLost) || a.Held() {
		t.Fatalf("a renew after takeover: %v", err)
	}
	info, err := b.Holder(ctx)
	if err != nil || info.Holder != "b" || info.TTL != 15*time.Second {
		t.Fatalf("holder %+v %v", info, err)
	}
	// TryAcquire by a holder that lost the lease says so without error.
	stale := c.NewLease("", path, "c", 15*time.Second)
	stale.SetClock(clk.now)
	clk.add(16 * time.Second)
	if ok, err := stale.TryAcquire(ctx); ok || err != nil { // first sight of b's lease
		t.Fatalf("c: %v %v", ok, err)
	}
	// Release hands over at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a after release: %v %v", ok, err)
	}
}

func TestLeaseRacingAcquirersGetOne(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	results := make(chan bool, 8)
	for i := 0; i < 8; i++ {
		l := c.NewLease("", "caravan/leader/x", string(rune('a'+i)), time.Minute)
		go func() {
			ok, err := l.TryAcquire(ctx)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	won := 0
	for i := 0; i < 8; i++ {
		if <-results {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d holders", won)
	}
}

func TestLeaseSurvivesNomadHiccup(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	l := c.NewLease("", "caravan/leader/y", "a", time.Minute)
	if ok, _ := l.TryAcquire(ctx); !ok {
		t.Fatal("acquire")
	}
	srv.FailNext(1, "/v1/var/", 500, "rpc error: leader election")
	if err := l.Renew(ctx); !errors.Is(err, nomad.ErrServer) || !l.Held() {
		t.Fatalf("a 500 is not a lost lease: %v held=%v", err, l.Held())
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseTryAcquireWhenTakenOver(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	clk := newClock()
	a := c.NewLease("", "caravan/leader/z", "a", time.Second)
	b := c.NewLease("", "caravan/leader/z", "b", time.Second)
	a.SetClock(clk.now)
	b.SetClock(clk.now)
	a.TryAcquire(ctx)
	b.TryAcquire(ctx)
	clk.add(2 * time.Second)
	if ok, _ := b.TryAcquire(ctx); !ok {
		t.Fatal("b takeover")
	}
	if ok, err := a.TryAcquire(ctx); ok || err != nil || a.Held() {
		t.Fatalf("a after losing the lease: ok=%v err=%v held=%v", ok, err, a.Held())
	}
}

// TestLeaseTokenGrowsWithEachHolder: the fencing token of a hold is the
// index of the write that took the lease; a later holder's is larger, a
// renewal keeps it, and a process that holds nothing has none.
func TestLeaseTokenGrowsWithEachHolder(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	clk := newClock()
	a := c.NewLease("", "caravan/leader/token", "a", 10*time.Second)
	b := c.NewLease("", "caravan/leader/token", "b", 10*time.Second)
	a.SetClock(clk.now)
	b.SetClock(clk.now)
	if a.Token() != 0 {
		t.Fatalf("token before acquiring: %d", a.Token())
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a acquire: %v %v", ok, err)
	}
	first := a.Token()
	if err := a.Renew(ctx); err != nil || a.Token() != first || first == 0 {
		t.Fatalf("renewal changed the token: %d -> %d (%v)", first, a.Token(), err)
	}
	_, _ = b.TryAcquire(ctx) // b sees a's lease
	clk.add(11 * time.Second)
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b takeover: %v %v", ok, err)
	}
	if b.Token() <= first {
		t.Errorf("b's token %d is not above a's %d", b.Token(), first)
	}
	if err := a.Renew(ctx); !errors.Is(err, nomad.ErrLeaseLost) || a.Token() != 0 {
		t.Errorf("a after the takeover: renew %v, token %d", err, a.Token())
	}
}
