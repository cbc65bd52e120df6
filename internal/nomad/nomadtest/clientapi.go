package nomadtest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The client agent endpoints (/v1/client/...), served by the same fake so
// that one address works for servers and clients alike; nodes advertise the
// fake's address as their HTTPAddr.

// SetAllocStats sets what /v1/client/allocation/:id/stats reports. Fields
// are rendered in the recorded shape; nil clears.
func (s *Server) SetAllocStats(allocID string, u *api.AllocResourceUsage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allocStats[allocID] = u
}

// SetHostStats sets what /v1/client/stats reports for a node; nil clears.
func (s *Server) SetHostStats(nodeID string, h *api.HostStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hostStats[nodeID] = h
}

// overlay conforms a typed value's JSON to a template (keys of the
// template, values of the typed value where it has them).
func overlay(tmpl map[string]any, typed any) map[string]any {
	b, _ := json.Marshal(typed)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return conform(tmpl, m).(map[string]any)
}

func (s *Server) handleClientStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.URL.Query().Get("node_id")
	var n *node
	if id != "" {
		if n = s.nodes[id]; n == nil {
			writeError(w, http.StatusNotFound, "Unknown node "+id)
			return
		}
	} else if len(s.nodeOrder) > 0 {
		n = s.nodes[s.nodeOrder[0]]
	}
	m := shapeOf("get-client-stats.json")
	m["Timestamp"] = s.nowNano()
	if n != nil {
		tmplGroup := shapeOf("get-client-stats.json", "DeviceStats", 0)
		tmplInst := shapeOf("get-client-stats.json", "DeviceStats", 0, "InstanceStats", "gpu0")
		var groups []any
		for _, d := range n.Devices {
			g := deepCopy(tmplGroup).(map[string]any)
			g["Vendor"], g["Type"], g["Name"] = d.Vendor, d.Type, d.Name
			insts := map[string]any{}
			for _, inst := range d.IDs {
				im := deepCopy(tmplInst).(map[string]any)
				im["Timestamp"] = s.Now().UTC().Format(time.RFC3339Nano)
				insts[inst] = im
			}
			g["InstanceStats"] = insts
			groups = append(groups, g)
		}
		m["DeviceStats"] = groups
		if groups == nil {
			m["DeviceStats"] = []any{}
		}
		if h := s.hostStats[n.ID]; h != nil {
			m = overlay(m, h)
		}
	}
	s.writeJSON(w, s.index, m)
}

func (s *Server) handleAllocStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		writeError(w, http.StatusNotFound, "Unknown allocation \""+r.PathValue("id")+"\"")
		return
	}
	m := shapeOf("get-client-allocation-stats.json")
	ru := m["ResourceUsage"].(map[string]any)
	tasks := map[string]any{}
	m["Tasks"] = tasks
	m["Timestamp"] = s.nowNano()
	if u := s.allocStats[a.ID]; u != nil {
		b, _ := json.Marshal(u)
		var typed map[string]any
		_ = json.Unmarshal(b, &typed)
		m["ResourceUsage"] = conform(ru, typed["ResourceUsage"])
		if tt, ok := typed["Tasks"].(map[string]any); ok && len(tt) > 0 {
			out := map[string]any{}
			for name, x := range tt {
				xm, _ := x.(map[string]any)
				out[name] = map[string]any{"ResourceUsage": conform(ru, xm["ResourceUsage"]), "Timestamp": s.nowNano(), "Pids": xm["Pids"]}
			}
			m["Tasks"] = out
		}
	}
	s.writeJSON(w, s.index, m)
}

// handleLogs: GET /v1/client/fs/logs/:alloc. plain=true streams raw
// bytes; otherwise JSON frames with base64 Data and the end offset, as in
// get-client-fs-logs-stdout-framed.json. follow=true keeps the stream
// open until the allocation ends or the client goes away.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	task, typ := q.Get("task"), q.Get("type")
	plain, follow := isTrue(r, "plain"), isTrue(r, "follow")
	origin := q.Get("origin")
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	if typ != "stdout" && typ != "stderr" {
		writeError(w, http.StatusBadRequest, "must provide a valid log type (stdout or stderr)")
		return
	}
	s.mu.Lock()
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Unknown allocation \""+r.PathValue("id")+"\"")
		return
	}
	if _, ok := a.States[task]; !ok {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "unknown task name \""+task+"\"")
		return
	}
	key := logKey(task, typ == "stderr")
	pos := int(offset)
	if origin == "end" {
		pos = len(a.Logs[key]) - int(offset)
	}
	if pos < 0 {
		pos = 0
	}
	hb := s.HeartbeatInterval
	s.mu.Unlock()

	if plain {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	bw := bufio.NewWriter(w)
	file := "alloc/logs/" + task + "." + typ + ".0"
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	for {
		s.mu.Lock()
		data := a.Logs[key]
		var chunk []byte
		if pos < len(data) {
			chunk = append([]byte(nil), data[pos:]...)
			pos = len(data)
		}
		done := a.terminal() || !follow
		changed := s.changed
		s.mu.Unlock()
		if len(chunk) > 0 {
			if plain {
				bw.Write(chunk)
			} else {
				b, _ := json.Marshal(map[string]any{"Data": chunk, "File": file, "Offset": pos})
				bw.Write(b)
			}
			if bw.Flush() != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		case <-changed:
		case <-ticker.C:
			if !plain {
				bw.WriteString("{}")
				if bw.Flush() != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	}
}

// handleAgentSelf: GET /v1/agent/self as a client agent answers it, for
// the node agent that finds its node there (stats.client.node_id). The
// local client is the fake's first node, as for /v1/client/stats. Of the
// agent's configuration only its identity is given (name, datacenter,
// region, version, client or server, node pool), where it keeps its data
// and allocations, and the few settings a client's operator sets; Nomad's
// defaults for the rest are left out.
func (s *Server) handleAgentSelf(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, dc, pool, id := "", "dc1", "default", ""
	if len(s.nodeOrder) > 0 {
		n := s.nodes[s.nodeOrder[0]]
		name, dc, pool, id = n.Name, n.Datacenter, n.Pool, n.ID
	}
	s.writeJSON(w, s.index, map[string]any{
		"config": map[string]any{
			"NodeName": name, "Datacenter": dc, "Region": "global",
			"Version": map[string]any{"BuildDate": nil, "Revision": "", "Version": "2.0.5", "VersionMetadata": "", "VersionPrerelease": ""},
			"Client": map[string]any{"Enabled": true, "NodePool": pool, "NodeClass": "", "Servers": []any{s.nodeHTTPAddr()},
				"Drain": nil, "MemoryMB": 0, "Meta": map[string]any{}, "Options": map[string]any{}, "StateDir": "",
				"AllocDir": "", "CgroupParent": "",
				"Artifact": map[string]any{"DecompressionFileCountLimit": 4096, "DecompressionSizeLimit": "100GB", "DisableArtifactInspection": false,
					"DisableFilesystemIsolation": false, "FilesystemIsolationExtraPaths": nil, "GCSTimeout": "30m", "GitTimeout": "30m",
					"HTTPMaxSize": "100GB", "HTTPReadTimeout": "30m", "HgTimeout": "30m", "S3Timeout": "30m", "SetEnvironmentVariables": ""}},
			"DataDir": "/opt/nomad/data", // the packaged default; allocations under alloc/
			"Server":  map[string]any{"Enabled": false, "DataDir": ""},
			"Files":   []any{},
			"TLSConfig": map[string]any{"CAFile": "", "CertFile": "", "Checksum": "", "EnableHTTP": false, "EnableRPC": false,
				"KeyFile": "", "KeyLoader": map[string]any{}, "RPCUpgradeMode": false, "TLSCipherSuites": "", "TLSMinVersion": "",
				"VerifyHTTPSClient": false, "VerifyServerHostname": false},
			"UI": map[string]any{"Enabled": true, "Label": map[string]any{"BackgroundColor": "", "Text": "", "TextColor": ""}},
		},
		"member": map[string]any{"Addr": nil, "DelegateCur": 0, "DelegateMax": 0, "DelegateMin": 0, "Name": "", "Port": 0,
			"ProtocolCur": 0, "ProtocolMax": 0, "ProtocolMin": 0, "Status": "none", "Tags": nil},
		"stats": map[string]any{
			"client": map[string]any{"heartbeat_ttl": "10s", "node_id": id, "known_servers": s.nodeHTTPAddr(),
				"num_allocations": strconv.Itoa(len(s.nodeAllocs[id])), "last_heartbeat": "1s"},
			"runtime": map[string]any{"arch": "amd64", "cpu_count": "2", "goroutines": "100", "kernel.name": "linux",
				"max_procs": "2", "version": "go1.26"},
		},
	})
}
