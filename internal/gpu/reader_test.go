package gpu

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeSource is a Source whose reads return canned stats, an error, or
// block until released, and whose event poll may block too.
type fakeSource struct {
	devs      []Device
	errs      map[int]error
	block     map[int]chan struct{}
	pollBlock chan struct{} // nil: polls return at once
	mu        sync.Mutex
	reads     map[int]int
	polls     int
	pending   []XID
	closed    int
}

func (f *fakeSource) Devices() []Device { return f.devs }

func (f *fakeSource) Read(_ context.Context, i int) (Stats, error) {
	f.mu.Lock()
	f.reads[i]++
	ch := f.block[i]
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
	if err := f.errs[i]; err != nil {
		return Stats{}, err
	}
	s := NewStats(f.devs[i])
	s.Util = float64(i) / 10
	return s, nil
}

func (f *fakeSource) PollXIDs() []XID {
	f.mu.Lock()
	f.polls++
	ch := f.pollBlock
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pending
	f.pending = nil
	return out
}

func (f *fakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func newFake(n int) *fakeSource {
	f := &fakeSource{errs: map[int]error{}, block: map[int]chan struct{}{}, reads: map[int]int{}}
	for i := range n {
		f.devs = append(f.devs, Device{Index: i, UUID: "GPU-" + string(rune('a'+i)), Name: "Fake"})
	}
	return f
}

func TestReaderSkipsHungDeviceAndCountsFailures(t *testing.T) {
	f := newFake(3)
	release := make(chan struct{})
	f.block[1] = release
	f.errs[2] = errors.New("GPU is lost")
	r := NewReader(f, 20*time.Millisecond)

	for round := 1; round <= 3; round++ {
		res := r.ReadAll(context.Background())
		if res[0].Err != nil || res[0].Util != 0 {
			t.Fatalf("round %d: healthy device: %+v", round, res[0])
		}
		if !errors.Is(res[1].Err, ErrTimeout) {
			t.Fatalf("round %d: hung device: want ErrTimeout, got %v", round, res[1].Err)
		}
		if res[2].Err == nil || errors.Is(res[2].Err, ErrTimeout) {
			t.Fatalf("round %d: failing device: want its error, got %v", round, res[2].Err)
		}
	}
	f.mu.Lock()
	hungReads := f.reads[1]
	f.mu.Unlock()
	if hungReads != 1 {
		t.Errorf("hung device was read %d times; want 1 outstanding read, joined by later scrapes", hungReads)
	}
	if r.Hung() != 1 {
		t.Errorf("Hung() = %d, want 1", r.Hung())
	}
	fails := r.Failures()
	if fails[0] != (Failures{Device: f.devs[0]}) || fails[1].Timeouts != 3 || fails[2].Errors != 3 {
		t.Errorf("failures = %+v", fails)
	}

	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for r.Hung() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	res := r.ReadAll(context.Background())
	if res[1].Err != nil || res[1].Util != 0.1 {
		t.Errorf("after release: %+v", res[1])
	}
}

func TestReaderXIDHistory(t *testing.T) {
	f := newFake(2)
	r := NewReader(f, time.Second)
	f.pending = []XID{{Index: 1, Code: 79}, {Index: 1, Code: 79}, {Index: 0, Code: 48}}
	got, err := r.PollXIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []XIDCount{{Device: f.devs[0], Code: 48, Count: 1}, {Device: f.devs[1], Code: 79, Count: 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	since := r.XIDsSince(1)
	if len(since) != 2 || since[0].Seq != 2 || since[1].Code != 48 {
		t.Errorf("XIDsSince(1) = %+v", since)
	}
	if got, _ := r.PollXIDs(context.Background()); got[1].Count != 2 {
		t.Error("counts must persist across polls")
	}
}

func TestReaderBoundsAHungXIDPoll(t *testing.T) {
	f := newFake(2)
	r := NewReader(f, 10*time.Millisecond)
	f.pending = []XID{{Index: 0, Code: 48}}
	if _, err := r.PollXIDs(context.Background()); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	f.mu.Lock()
	f.pollBlock = release
	f.pending = []XID{{Index: 1, Code: 79}}
	f.mu.Unlock()
	for round := 1; round <= 3; round++ {
		got, err := r.PollXIDs(context.Background())
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("round %d: hung poll: want ErrTimeout, got %v", round, err)
		}
		if len(got) != 1 || got[0].Code != 48 {
			t.Errorf("round %d: counts under a hung poll = %+v, want the 48 seen before", round, got)
		}
	}
	f.mu.Lock()
	polls := f.polls
	f.mu.Unlock()
	if polls != 2 {
		t.Errorf("%d polls started; want the first and one hung poll, joined by later calls", polls)
	}
	if r.Hung() != 1 || r.Close() == nil {
		t.Errorf("Hung() = %d and Close succeeded under a hung poll; want 1 and an error", r.Hung())
	}

	close(release)
	for r.Hung() > 0 {
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	f.pollBlock = nil
	f.mu.Unlock()
	got, err := r.PollXIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The hung poll's event is recorded when it returns, not lost.
	if len(got) != 2 || got[1].Index != 1 || got[1].Code != 79 {
		t.Errorf("counts after the poll returned = %+v, want 48 on GPU 0 and 79 on GPU 1", got)
	}
	if since := r.XIDsSince(1); len(since) != 1 || since[0].Code != 79 {
		t.Errorf("XIDsSince(1) = %+v", since)
	}
}

func TestReaderCloseLeavesAHungDriverAlone(t *testing.T) {
	f := newFake(2)
	release := make(chan struct{})
	f.block[1] = release
	r := NewReader(f, 10*time.Millisecond)
	r.ReadAll(context.Background())
	if err := r.Close(); err == nil {
		t.Error("Close with a hung read: no error")
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed != 0 {
		t.Fatalf("Source closed %d times under a hung read; a shutdown could hang too", closed)
	}
	close(release)
	for r.Hung() > 0 {
		time.Sleep(time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if f.closed != 1 {
		t.Errorf("Source closed %d times once the read returned, want 1", f.closed)
	}
}
