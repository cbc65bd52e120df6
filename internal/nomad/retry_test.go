package nomad

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// refuser answers 429 to the first n requests, then 200 with a JSON body,
// and keeps what each request carried.
type refuser struct {
	mu         sync.Mutex
	n          int
	retryAfter string
	bodies     []string
}

func (r *refuser) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	refuse := len(r.bodies) <= r.n
	r.mu.Unlock()
	if refuse {
		if r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "Your IP is issuing too many concurrent connections, please rate limit your calls\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"EvalID":"e1","Index":7}`)
}

// recordedSleeps replaces the transport's sleep so tests take no time and
// see each wait.
func recordedSleeps(c *Client) *[]time.Duration {
	var waits []time.Duration
	rt := c.retry
	rt.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	rt.jitter = func(d time.Duration) time.Duration { return d - 1 }
	return &waits
}

func TestRetry429ReplaysTheWrite(t *testing.T) {
	srv := &refuser{n: 2}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, err := New(Config{Address: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	waits := recordedSleeps(c)
	job := api.NewBatchJob("j", "j", "", 50)
	if _, err := c.RegisterJob(context.Background(), job, true, 0); err != nil {
		t.Fatalf("register after two 429s: %v", err)
	}
	if len(srv.bodies) != 3 {
		t.Fatalf("server saw %d requests, want 3 (two refused, one accepted)", len(srv.bodies))
	}
	for i, b := range srv.bodies {
		if b == "" || b != srv.bodies[0] {
			t.Errorf("request %d carried %q, want the same body as the first (%q)", i, b, srv.bodies[0])
		}
	}
	if len(*waits) != 2 || (*waits)[1] <= (*waits)[0] {
		t.Errorf("waits %v: want two growing backoffs", *waits)
	}
}

func TestRetry429HonoursRetryAfter(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"2", 2 * time.Second},
		{"0", 0},
		{"3600", retryAfterCap},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			hs := httptest.NewServer(&refuser{n: 1, retryAfter: tt.header})
			defer hs.Close()
			c, _ := New(Config{Address: hs.URL})
			waits := recordedSleeps(c)
			if _, err := c.Jobs(context.Background(), ""); err == nil {
				// The body is not a job list; any decode error is fine,
				// what matters is the wait before the second attempt.
				t.Log("decoded")
			}
			if len(*waits) != 1 || (*waits)[0] != tt.want {
				t.Errorf("waits %v, want [%s]", *waits, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"5", 5 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetry429GivesUpWithASentence(t *testing.T) {
	srv := &refuser{n: 1 << 30}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, _ := New(Config{Address: hs.URL})
	waits := recordedSleeps(c)
	_, err := c.Jobs(context.Background(), "")
	if err == nil {
		t.Fatal("no error after every attempt was refused")
	}
	if len(srv.bodies) != retryAttempts || len(*waits) != retryAttempts-1 {
		t.Errorf("%d requests and %d waits, want %d and %d", len(srv.bodies), len(*waits), retryAttempts, retryAttempts-1)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || !strings.Contains(err.Error(), "429") {
		t.Errorf("error %v does not say Nomad answered 429", err)
	}
}

func TestRetry429StopsWhenCanceled(t *testing.T) {
	hs := httptest.NewServer(&refuser{n: 1 << 30})
	defer hs.Close()
	c, _ := New(Config{Address: hs.URL})
	ctx, cancel := context.WithCancel(context.Background())
	rt := c.retry
	calls := 0
	rt.sleep = func(ctx context.Context, d time.Duration) error {
		calls++
		cancel()
		return sleepCtx(ctx, d)
	}
	if _, err := c.Jobs(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want canceled", err)
	}
	if calls != 1 {
		t.Errorf("slept %d times after the cancel, want 1", calls)
	}
}

// TestConnectionsStayBounded: however many goroutines call at once, one
// Client never holds more than MaxConnsPerHost connections to Nomad, so a
// burst cannot trip Nomad's per-address limit (100 by default).
func TestConnectionsStayBounded(t *testing.T) {
	var open, peak atomic.Int64
	release := make(chan struct{})
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		io.WriteString(w, "[]")
	}))
	hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	hs.Start()
	defer hs.Close()
	c, _ := New(Config{Address: hs.URL})
	const callers = 3 * MaxConnsPerHost
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { _, _ = c.Jobs(context.Background(), "") })
	}
	// Let every caller reach the transport before any is answered.
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() < MaxConnsPerHost && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if p := peak.Load(); p > MaxConnsPerHost || p == 0 {
		t.Errorf("peak connections %d, want 1..%d", p, MaxConnsPerHost)
	}
}

// TestLoopbackAsksForIdentity: a Nomad on this machine is asked for
// uncompressed answers (gzip would only cost CPU on both ends); a remote
// one still gets the api client's Accept-Encoding.
func TestLoopbackAsksForIdentity(t *testing.T) {
	var got []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Accept-Encoding"))
		io.WriteString(w, "[]")
	}))
	defer hs.Close()
	c, err := New(Config{Address: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Jobs(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "" {
		t.Errorf("Accept-Encoding sent to a loopback Nomad: %q", got)
	}
	for addr, want := range map[string]bool{"http://127.0.0.1:4646": true, "http://localhost:4646": true, "https://[::1]:4646": true,
		"https://nomad.example:4646": false, "http://10.0.0.5:4646": false} {
		if loopback(addr) != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, !want, want)
		}
	}
}
