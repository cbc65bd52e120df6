package nomadtest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// event is one entry of the event stream. Its payload is rendered when a
// subscriber reads it, from a snapshot taken when it happened, so that
// registering jobs costs nothing extra when nobody listens.
type event struct {
	Index            uint64
	Topic, Type, Key string
	NS               string
	FilterKeys       []string
	payload          func(s *Server) map[string]any
}

const maxEvents = 100_000

// emit appends an event at the current index (mu held).
func (s *Server) emit(topic, typ, key, ns string, snap func(s *Server) map[string]any) {
	s.emitPayload(topic, typ, key, ns, func(s *Server) map[string]any { return map[string]any{topic: snap(s)} })
}

// emitFor is emit for an evaluation's or an allocation's event, which
// Nomad tags with its job's ID and its deployment's ("" for a batch job)
// for filtering.
func (s *Server) emitFor(jobID, topic, typ, key, ns string, snap func(s *Server) map[string]any) {
	s.emit(topic, typ, key, ns, snap)
	s.events[len(s.events)-1].FilterKeys = []string{jobID, ""}
}

// emitPayload appends an event whose whole Payload object payload renders.
func (s *Server) emitPayload(topic, typ, key, ns string, payload func(s *Server) map[string]any) {
	s.events = append(s.events, event{Index: s.index, Topic: topic, Type: typ, Key: key, NS: ns, payload: payload})
	if len(s.events) > maxEvents {
		s.events = append(s.events[:0:0], s.events[len(s.events)-maxEvents/2:]...)
	}
	s.touch()
}

func evalSnap(e *eval) func(*Server) map[string]any {
	c := *e
	return func(*Server) map[string]any { return renderEval(&c) }
}

func allocSnap(a *alloc) func(*Server) map[string]any {
	c := *a
	states := make(map[string]*taskState, len(a.States))
	for k, v := range a.States {
		ts := *v
		ts.Events = append([]taskEvent(nil), v.Events...)
		states[k] = &ts
	}
	c.States = states
	return func(s *Server) map[string]any { return s.renderAlloc(&c, false) }
}

// planSnap is an allocation as the scheduler's plan result carries it:
// before any client update, so without client-side fields.
func planSnap(a *alloc) func(*Server) map[string]any {
	snap := allocSnap(a)
	return func(s *Server) map[string]any {
		m := snap(s)
		delete(m, "ClientDescription")
		delete(m, "NetworkStatus")
		delete(m, "TaskStates")
		return m
	}
}

func jobSnap(j *job, status string) func(*Server) map[string]any {
	c := *j
	return func(s *Server) map[string]any {
		m := s.renderJob(&c)
		m["Status"] = status
		return m
	}
}

func nodeSnap(n *node) func(*Server) map[string]any {
	c := *n
	return func(s *Server) map[string]any { return s.renderNode(&c) }
}

// topicFilter is the parsed ?topic= list: topic -> keys ("*" for any).
type topicFilter map[string][]string

func parseTopics(r *http.Request) topicFilter {
	tf := topicFilter{}
	for _, t := range r.URL.Query()["topic"] {
		name, key, ok := strings.Cut(t, ":")
		if !ok {
			key = "*"
		}
		tf[name] = append(tf[name], key)
	}
	if len(tf) == 0 {
		tf["*"] = []string{"*"}
	}
	return tf
}

func (tf topicFilter) match(e *event) bool {
	keys, ok := tf[e.Topic]
	if !ok {
		keys, ok = tf["*"]
	}
	if !ok {
		return false
	}
	for _, k := range keys {
		if k == "*" || k == e.Key {
			return true
		}
	}
	return false
}

// handleEventStream: GET /v1/event/stream. One JSON object per line, all
// events of one index together; `{}` heartbeats while idle.
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	tf := parseTopics(r)
	ns := reqNS(r)
	var from uint64
	if v := r.URL.Query().Get("index"); v != "" {
		from, _ = strconv.ParseUint(v, 10, 64)
	}
	s.mu.Lock()
	// Like Nomad, index 0 replays every event still buffered (the
	// recording with index=0 starts at the cluster's first events); index N
	// streams events after N.
	pos := len(s.events)
	for pos > 0 && s.events[pos-1].Index > from {
		pos--
	}
	hb := s.HeartbeatInterval
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	bw := bufio.NewWriter(w)
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	bw.WriteString("{}\n")
	flush()
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	for {
		s.mu.Lock()
		if pos > len(s.events) { // trimmed under us
			pos = 0
		}
		pending := s.events[pos:]
		var lines [][]byte
		var cur []map[string]any
		var curIdx uint64
		flushIdx := func() {
			if len(cur) == 0 {
				return
			}
			evs := make([]any, len(cur))
			for i := range cur {
				evs[i] = cur[i]
			}
			b, _ := json.Marshal(map[string]any{"Index": curIdx, "Events": evs})
			lines = append(lines, b)
			cur = nil
		}
		for i := range pending {
			e := &pending[i]
			if !tf.match(e) || (e.NS != "" && ns != "*" && e.NS != ns) {
				continue
			}
			if e.Index != curIdx {
				flushIdx()
				curIdx = e.Index
			}
			fk := e.FilterKeys
			var fkv any
			if fk != nil {
				fkv = fk
			}
			cur = append(cur, map[string]any{
				"FilterKeys": fkv, "Index": e.Index, "Key": e.Key, "Namespace": e.NS,
				"Payload": e.payload(s), "Topic": e.Topic, "Type": e.Type,
			})
		}
		flushIdx()
		pos = len(s.events)
		changed := s.changed
		s.mu.Unlock()
		for _, l := range lines {
			bw.Write(l)
			bw.WriteByte('\n')
		}
		if len(lines) > 0 && !flush() {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		case <-changed:
		case <-ticker.C:
			bw.WriteString("{}\n")
			if !flush() {
				return
			}
		}
	}
}
