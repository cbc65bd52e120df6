package nomad

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Nomad answers 429 Too Many Requests when one client address holds more
// than limits.http_max_conns_per_client connections (100 by default), and
// a server under load may shed requests the same way. Both are transient:
// the request was not processed, so sending it again is safe even for
// writes.
const (
	// MaxConnsPerHost bounds the connections one caravan process opens to
	// Nomad, busy and idle together: apply's writers, the autoscaler's
	// reads and a followed log share them, and requests beyond it wait for
	// a free connection instead of tripping Nomad's per-address limit.
	MaxConnsPerHost = 32

	// retryAttempts bounds how often a 429 is retried before it is
	// returned to the caller as an error.
	retryAttempts = 8
	// retryBase and retryCap shape the exponential backoff with full
	// jitter used when Nomad gives no Retry-After.
	retryBase = 100 * time.Millisecond
	retryCap  = 5 * time.Second
	// retryAfterCap keeps a server's Retry-After from parking a command
	// for longer than a person would wait.
	retryAfterCap = 30 * time.Second
)

// retryTransport resends requests that Nomad refused with 429, after a
// backoff that honours Retry-After. Requests whose body cannot be replayed
// are returned as they are.
type retryTransport struct {
	next     http.RoundTripper
	attempts int
	// identity asks Nomad for uncompressed answers. On loopback, gzip is
	// all cost and no gain: the server compresses a large listing (12 MB
	// for 10,000 jobs) in about a second of CPU that the client then
	// spends again to inflate it, on the same machine.
	identity bool
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a duration in [0, d); tests replace it.
	jitter func(d time.Duration) time.Duration
}

func newRetryTransport(next http.RoundTripper) *retryTransport {
	return &retryTransport{next: next, attempts: retryAttempts, sleep: sleepCtx,
		jitter: func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d))) }}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.identity && req.Header.Get("Accept-Encoding") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Accept-Encoding")
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt >= t.attempts {
			return resp, err
		}
		next, ok := rewind(req)
		if !ok {
			return resp, nil
		}
		wait := t.backoff(attempt, resp.Header.Get("Retry-After"))
		// The refused response holds a connection until it is read.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		req = next
	}
}

// backoff is how long to wait before attempt+1: the server's Retry-After
// when it sent one, else exponential backoff with full jitter.
func (t *retryTransport) backoff(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter, time.Now()); ok {
		return min(d, retryAfterCap)
	}
	d := retryBase << min(attempt-1, 10)
	if d > retryCap {
		d = retryCap
	}
	return retryBase/2 + t.jitter(d)
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// rewind returns a request to send again: the same one when it has no
// body, a clone with a fresh body when the body can be replayed.
func rewind(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	next := req.Clone(req.Context())
	next.Body = body
	return next, true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
