package nomadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Server is an in-process fake Nomad HTTP API. The real api client talks
// to it; it answers in the shapes recorded from Nomad 2.0.5. It is safe for
// concurrent use. Zero configuration gives a cluster with node pools "all"
// and "default", namespace "default", no nodes and ACLs off.
type Server struct {
	hs *httptest.Server

	mu         sync.Mutex
	index      uint64
	namespaces map[string]*namespace
	pools      map[string]*nodePool
	poolOrder  []string
	nodes      map[string]*node
	nodeOrder  []string
	jobs       map[nsKey]*job
	allocs     map[string]*alloc
	allocOrder []string
	jobAllocs  map[nsKey][]string // creation order
	nodeAllocs map[string][]string
	usageCache map[string]nodeUse // per node; dropped when its allocations change
	evals      map[string]*eval
	evalOrder  []string
	blocked    map[nsKey]string // the blocked eval of each job
	vars       map[nsKey]*variable
	allocStats map[string]*api.AllocResourceUsage
	hostStats  map[string]*api.HostStats

	serverVersion string // what /v1/agent/members says; "" means ServerVersionDefault

	varPage int  // forced variable page size, 0: none
	autoRun bool // placed allocations start running at once

	events  []event
	changed chan struct{} // closed and replaced on every state change
	closed  chan struct{} // closed by Close: streaming handlers return
	closeMu sync.Once

	faults   faults
	requests sync.Map // "METHOD /path" -> *atomic.Int64

	// HeartbeatInterval spaces `{}` heartbeats on the event stream and
	// followed logs (Nomad: 10 s).
	HeartbeatInterval time.Duration
	// Now is the fake's clock for times it reports.
	Now func() time.Time
}

type nodePool struct {
	Name, Description        string
	CreateIndex, ModifyIndex uint64
}

// New starts a fake Nomad for the test and stops it at cleanup.
func New(t testing.TB) *Server {
	s := newServer()
	s.hs = httptest.NewServer(s.handler())
	t.Cleanup(s.Close)
	return s
}

// NewUnstarted builds a fake without a listener, to mount its Handler
// elsewhere (benchmarks, custom TLS).
func NewUnstarted() *Server { return newServer() }

func newServer() *Server {
	s := &Server{
		index:             1,
		namespaces:        map[string]*namespace{"default": {Description: "Default shared namespace", CreateIndex: 1, ModifyIndex: 1}},
		pools:             map[string]*nodePool{},
		nodes:             map[string]*node{},
		jobs:              map[nsKey]*job{},
		allocs:            map[string]*alloc{},
		jobAllocs:         map[nsKey][]string{},
		nodeAllocs:        map[string][]string{},
		usageCache:        map[string]nodeUse{},
		evals:             map[string]*eval{},
		blocked:           map[nsKey]string{},
		vars:              map[nsKey]*variable{},
		allocStats:        map[string]*api.AllocResourceUsage{},
		hostStats:         map[string]*api.HostStats{},
		changed:           make(chan struct{}),
		closed:            make(chan struct{}),
		HeartbeatInterval: time.Second,
		Now:               time.Now,
	}
	s.faults.closed = s.closed
	s.pools["all"] = &nodePool{Name: "all", Description: "Node pool with all nodes in the cluster.", CreateIndex: 1, ModifyIndex: 1}
	s.pools["default"] = &nodePool{Name: "default", Description: "Default node pool.", CreateIndex: 1, ModifyIndex: 1}
	s.poolOrder = []string{"all", "default"}
	return s
}

// URL is the address to give the api client (NOMAD_ADDR).
func (s *Server) URL() string { return s.hs.URL }

// Handler is the fake's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler() }

// Close stops the listener; streams in flight end.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closed) })
	if s.hs != nil {
		s.hs.CloseClientConnections()
		s.hs.Close()
	}
}

// Config is an api.Config pointing at the fake.
func (s *Server) Config() *api.Config {
	c := api.DefaultConfig()
	c.Address = s.URL()
	c.SecretID = ""
	c.Namespace = ""
	c.Region = ""
	return c
}

// APIClient is a real api client pointing at the fake.
func (s *Server) APIClient(t testing.TB) *api.Client {
	c, err := api.NewClient(s.Config())
	if err != nil {
		t.Fatalf("nomadtest: api client: %v", err)
	}
	return c
}

// SetAutoRun makes placed allocations go straight to running (default:
// they stay pending until StartAlloc or RunAll).
func (s *Server) SetAutoRun(on bool) {
	s.mu.Lock()
	s.autoRun = on
	s.mu.Unlock()
}

type namespace struct {
	Description              string
	CreateIndex, ModifyIndex uint64
}

// AddNamespace creates a namespace.
func (s *Server) AddNamespace(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.namespaces[name] == nil {
		idx := s.nextIndex()
		s.namespaces[name] = &namespace{CreateIndex: idx, ModifyIndex: idx}
	}
}

// Requests counts requests received for "METHOD /v1/path" (exact path).
func (s *Server) Requests(methodPath string) int {
	if v, ok := s.requests.Load(methodPath); ok {
		return int(v.(*atomic.Int64).Load())
	}
	return 0
}

// Index is the fake's current Raft-like index.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// nextIndex must be called with mu held.
func (s *Server) nextIndex() uint64 {
	s.index++
	return s.index
}

// touch wakes streams waiting for changes; mu held.
func (s *Server) touch() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) nowNano() int64 { return s.Now().UnixNano() }

// ---- HTTP plumbing ----

func (s *Server) count(r *http.Request) {
	key := r.Method + " " + r.URL.Path
	v, ok := s.requests.Load(key)
	if !ok {
		v, _ = s.requests.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(r)
		if s.faults.apply(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// namespace of a request: ?namespace=, then the X-Nomad-Namespace header
// is not used by the api client; default "default".
func reqNS(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return "default"
}

func (s *Server) writeJSON(w http.ResponseWriter, index uint64, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	h.Set("X-Nomad-KnownLeader", "true")
	h.Set("X-Nomad-LastContact", "0")
	w.Write(b)
}

// writeError answers like Nomad: a plain-text body and the status code.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, msg)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	return dec.Decode(v)
}

func isTrue(r *http.Request, key string) bool {
	v := r.URL.Query().Get(key)
	b, _ := strconv.ParseBool(v)
	return b
}

func hasFlag(r *http.Request, key string) bool {
	_, ok := r.URL.Query()[key]
	return ok
}

func atoiDefault(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return d
}
