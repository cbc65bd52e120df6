package nomadtest

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// faults holds the injected misbehaviour. Every rule matches requests
// whose path starts with a prefix ("" for all).
type faults struct {
	mu      sync.Mutex
	fail    []failRule
	delay   time.Duration
	delayOn string
	deny    []string
	token   string // required X-Nomad-Token when non-empty
	hook    func(w http.ResponseWriter, r *http.Request) bool
	closed  <-chan struct{} // the server's
}

type failRule struct {
	prefix string
	n      int
	status int
	body   string
}

// FailNext makes the next n requests whose path starts with prefix ("" for
// any) answer status with body, as a struggling Nomad does (500 "rpc error:
// ..."). Rules are consumed in the order they were added.
func (s *Server) FailNext(n int, prefix string, status int, body string) {
	s.faults.mu.Lock()
	s.faults.fail = append(s.faults.fail, failRule{prefix: prefix, n: n, status: status, body: body})
	s.faults.mu.Unlock()
}

// Delay holds every answer to paths starting with prefix for d (0 to
// stop), or until the client gives up.
func (s *Server) Delay(prefix string, d time.Duration) {
	s.faults.mu.Lock()
	s.faults.delay, s.faults.delayOn = d, prefix
	s.faults.mu.Unlock()
}

// Deny answers 403 "Permission denied" to paths starting with prefix, as
// Nomad does when the token's policy lacks the capability.
func (s *Server) Deny(prefix string) {
	s.faults.mu.Lock()
	s.faults.deny = append(s.faults.deny, prefix)
	s.faults.mu.Unlock()
}

// RequireToken turns ACLs on: requests without this X-Nomad-Token get 403,
// and /v1/acl/token/self answers with a token named name.
func (s *Server) RequireToken(secret string) {
	s.faults.mu.Lock()
	s.faults.token = secret
	s.faults.mu.Unlock()
}

// Intercept installs a hook that sees every request first; returning true
// means it answered.
func (s *Server) Intercept(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.faults.mu.Lock()
	s.faults.hook = h
	s.faults.mu.Unlock()
}

// ClearFaults removes every injected fault (not RequireToken).
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.fail, s.faults.delay, s.faults.deny, s.faults.hook = nil, 0, nil, nil
	s.faults.mu.Unlock()
}

func (f *faults) apply(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	hook := f.hook
	delay := time.Duration(0)
	if f.delay > 0 && strings.HasPrefix(r.URL.Path, f.delayOn) {
		delay = f.delay
	}
	var fail *failRule
	for i := range f.fail {
		if f.fail[i].n > 0 && strings.HasPrefix(r.URL.Path, f.fail[i].prefix) {
			f.fail[i].n--
			rule := f.fail[i]
			fail = &rule
			break
		}
	}
	denied := false
	for _, p := range f.deny {
		if strings.HasPrefix(r.URL.Path, p) {
			denied = true
		}
	}
	if f.token != "" && r.Header.Get("X-Nomad-Token") != f.token && r.URL.Query().Get("token") != f.token {
		denied = true
	}
	f.mu.Unlock()

	if hook != nil && hook(w, r) {
		return true
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return true
		case <-f.closed:
			return true
		}
	}
	if fail != nil {
		writeError(w, fail.status, fail.body)
		return true
	}
	if denied {
		writeError(w, http.StatusForbidden, "Permission denied")
		return true
	}
	return false
}
