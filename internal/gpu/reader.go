package gpu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrTimeout marks an NVML call (a device read or the XID event poll) that
// did not finish before its deadline.
var ErrTimeout = errors.New("NVML call timed out")

// Result is the outcome of reading one device.
type Result struct {
	Stats
	Err error // nil, ErrTimeout (wrapped), or the device's error
}

// Failures counts failed reads of one device since the Reader started.
type Failures struct {
	Device
	Errors   uint64 // reads that returned an error
	Timeouts uint64 // reads still running at their deadline
}

// XIDCount is the number of XID events of one code on one device.
type XIDCount struct {
	Device
	Code  uint64
	Count uint64
}

// maxXIDHistory bounds the recent XID events kept for consumers that poll
// with a cursor (the run sampler).
const maxXIDHistory = 256

// Reader reads all devices of a Source concurrently, each under a deadline,
// and polls its XID events under the same deadline. A device whose previous
// read is still running is not read again: callers join that read, so there
// is never more than one outstanding read (and goroutine) per device, nor
// more than one outstanding event poll, however long the driver hangs.
// Reader is safe for concurrent use by the scrape handler and the sampler.
type Reader struct {
	src     Source
	devs    []Device
	timeout time.Duration

	mu       sync.Mutex
	inflight []*call
	poll     *call // the outstanding XID event poll; nil when none
	fails    []Failures
	xidCount map[[2]uint64]uint64 // (index, code) → count
	xids     []XID                // ring of the latest events
	seq      uint64
}

type call struct {
	done     chan struct{}
	deadline time.Time // start + timeout: joiners wait no longer than this
	stats    Stats
	err      error
}

// wait waits for c until its deadline or ctx's end, and reports whether c
// has returned. A call that was already overdue when it was joined (a
// driver that stays hung) is not waited for again, so a hang costs one
// timeout, not one per scrape.
func (c *call) wait(ctx context.Context) bool {
	if wait := time.Until(c.deadline); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-c.done:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	// A call that finished while we waited on another counts as done even
	// though the deadline has passed meanwhile.
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// NewReader wraps src; timeout bounds each device read (default 1 s).
func NewReader(src Source, timeout time.Duration) *Reader {
	if timeout <= 0 {
		timeout = time.Second
	}
	devs := src.Devices()
	r := &Reader{src: src, devs: devs, timeout: timeout, inflight: make([]*call, len(devs)),
		fails: make([]Failures, len(devs)), xidCount: map[[2]uint64]uint64{}}
	for i, d := range devs {
		r.fails[i].Device = d
	}
	return r
}

// Devices lists the devices found when the Reader was made.
func (r *Reader) Devices() []Device { return r.devs }

// ReadAll reads every device and returns one Result per device, in device
// order, within the Reader's timeout (or ctx's deadline, if sooner).
func (r *Reader) ReadAll(ctx context.Context) []Result {
	calls := make([]*call, len(r.devs))
	r.mu.Lock()
	for i := range r.devs {
		c := r.inflight[i]
		if c == nil {
			c = &call{done: make(chan struct{}), deadline: time.Now().Add(r.timeout)}
			r.inflight[i] = c
			go r.read(i, c)
		}
		calls[i] = c
	}
	r.mu.Unlock()

	out := make([]Result, len(r.devs))
	for i, c := range calls {
		if c.wait(ctx) {
			out[i] = Result{Stats: c.stats, Err: c.err}
		} else {
			out[i] = Result{Stats: NewStats(r.devs[i]), Err: fmt.Errorf("GPU %d (%s): %w after %s", r.devs[i].Index, r.devs[i].UUID, ErrTimeout, r.timeout)}
		}
	}
	r.mu.Lock()
	for i, res := range out {
		switch {
		case errors.Is(res.Err, ErrTimeout):
			r.fails[i].Timeouts++
		case res.Err != nil:
			r.fails[i].Errors++
		}
	}
	r.mu.Unlock()
	return out
}

// read runs one device read; it outlives the caller's deadline when the
// driver hangs, and clears the in-flight slot only when it returns.
func (r *Reader) read(i int, c *call) {
	// The read itself is not cancellable (cgo), so it gets a background
	// context; the deadline is enforced by the waiting side.
	s, err := r.src.Read(context.Background(), r.devs[i].Index)
	if err != nil {
		err = fmt.Errorf("GPU %d (%s): %w", r.devs[i].Index, r.devs[i].UUID, err)
	}
	c.stats, c.err = s, err
	r.mu.Lock()
	r.inflight[i] = nil
	r.mu.Unlock()
	close(c.done)
}

// Failures returns the failed-read counters of every device.
func (r *Reader) Failures() []Failures {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Failures(nil), r.fails...)
}

// Hung reports how many NVML calls are still outstanding: device reads and
// the event poll.
func (r *Reader) Hung() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.inflight {
		if c != nil {
			n++
		}
	}
	if r.poll != nil {
		n++
	}
	return n
}

// PollXIDs drains the Source's new XID events into the Reader's history
// and returns the per-device, per-code counts so far. The poll has the
// deadline of a device read: a poll still running then (a hung driver) is
// reported as ErrTimeout with the counts recorded so far, later calls join
// it instead of starting another, and its events are recorded when it
// returns.
func (r *Reader) PollXIDs(ctx context.Context) ([]XIDCount, error) {
	r.mu.Lock()
	c := r.poll
	if c == nil {
		c = &call{done: make(chan struct{}), deadline: time.Now().Add(r.timeout)}
		r.poll = c
		go r.pollXIDs(c)
	}
	r.mu.Unlock()
	var err error
	if !c.wait(ctx) {
		err = fmt.Errorf("polling XID events: %w after %s", ErrTimeout, r.timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.xidCounts(), err
}

// pollXIDs runs one event poll; like read, it outlives its caller's
// deadline when the driver hangs.
func (r *Reader) pollXIDs(c *call) {
	evs := r.src.PollXIDs()
	r.mu.Lock()
	for _, e := range evs {
		r.seq++
		e.Seq = r.seq
		r.xidCount[[2]uint64{uint64(e.Index), e.Code}]++
		r.xids = append(r.xids, e)
	}
	if len(r.xids) > maxXIDHistory {
		r.xids = append([]XID(nil), r.xids[len(r.xids)-maxXIDHistory:]...)
	}
	r.poll = nil
	r.mu.Unlock()
	close(c.done)
}

// xidCounts returns the counts so far, in device and code order; r.mu is
// held.
func (r *Reader) xidCounts() []XIDCount {
	var out []XIDCount
	for _, d := range r.devs {
		for k, n := range r.xidCount {
			if int(k[0]) == d.Index {
				out = append(out, XIDCount{Device: d, Code: k[1], Count: n})
			}
		}
	}
	sortXIDCounts(out)
	return out
}

// XIDsSince returns the recorded XID events with Seq > after.
func (r *Reader) XIDsSince(after uint64) []XID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []XID
	for _, e := range r.xids {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}

func sortXIDCounts(c []XIDCount) {
	slices.SortFunc(c, func(a, b XIDCount) int {
		if a.Index != b.Index {
			return cmp.Compare(a.Index, b.Index)
		}
		return cmp.Compare(a.Code, b.Code)
	})
}

// Close closes the Source, unless a call is still hung in the driver:
// shutting NVML down under a hung call can hang as well, which would keep
// the agent from exiting until it is killed. The process is about to exit
// anyway, so the Source is then left open and the error says so.
func (r *Reader) Close() error {
	if n := r.Hung(); n > 0 {
		return fmt.Errorf("NVML left open: %d call(s) still hung in the driver", n)
	}
	return r.src.Close()
}
