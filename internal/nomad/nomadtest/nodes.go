package nomadtest

import (
	"fmt"
	"strconv"
	"time"
)

// NodeSpec describes a client node to seed. Zero fields take the values of
// the recorded GPU client (pool "default", dc1, 5192 MHz, 24105 MiB).
type NodeSpec struct {
	Name       string
	Pool       string // node pool; created if missing, as Nomad does
	Datacenter string
	CPU        int   // MHz
	MemoryMB   int64 // MiB
	// GPUs is the number of nvidia/gpu instances (IDs gpu0, gpu1, ...).
	GPUs         int
	GPUName      string // default "H100-SIM"
	GPUMemoryMiB int64  // default 81559
	Meta         map[string]string
	// Status: "ready" (default), "initializing", "down".
	Status     string
	Ineligible bool
}

// AddNode registers a client node and returns its ID; blocked evaluations
// are retried, so queued work may be placed on it at once.
func (s *Server) AddNode(spec NodeSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Pool == "" {
		spec.Pool = "default"
	}
	if spec.Datacenter == "" {
		spec.Datacenter = "dc1"
	}
	if spec.CPU == 0 {
		spec.CPU = 5192
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 24105
	}
	if spec.Status == "" {
		spec.Status = "ready"
	}
	if spec.Name == "" {
		spec.Name = fmt.Sprintf("node-%d", len(s.nodes)+1)
	}
	idx := s.nextIndex()
	n := &node{ID: newUUID(), Name: spec.Name, Pool: spec.Pool, Datacenter: spec.Datacenter, Status: spec.Status,
		Eligible: !spec.Ineligible, CPU: spec.CPU, MemoryMB: spec.MemoryMB, Meta: spec.Meta,
		CreateIndex: idx, ModifyIndex: idx, StatusUpdatedAt: s.Now().Unix(),
		Events: []nodeEvent{{Subsystem: "Cluster", Message: "Node registered", Time: s.Now()}}}
	if spec.GPUs > 0 {
		d := &device{Vendor: "nvidia", Type: "gpu", Name: spec.GPUName, MemoryMiB: spec.GPUMemoryMiB}
		if d.Name == "" {
			d.Name = "H100-SIM"
		}
		if d.MemoryMiB == 0 {
			d.MemoryMiB = 81559
		}
		for i := 0; i < spec.GPUs; i++ {
			d.IDs = append(d.IDs, "gpu"+strconv.Itoa(i))
		}
		n.Devices = []*device{d}
	}
	s.ensurePool(spec.Pool)
	s.nodes[n.ID] = n
	s.nodeOrder = append(s.nodeOrder, n.ID)
	s.emit("Node", "NodeRegistration", n.ID, "", nodeSnap(n))
	s.retryBlocked()
	return n.ID
}

// AddNodePool creates a node pool.
func (s *Server) AddNodePool(name, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensurePool(name)
	s.pools[name].Description = description
}

func (s *Server) ensurePool(name string) {
	if _, ok := s.pools[name]; ok {
		return
	}
	idx := s.nextIndex()
	s.pools[name] = &nodePool{Name: name, CreateIndex: idx, ModifyIndex: idx}
	s.poolOrder = append(s.poolOrder, name)
}

// NodeID finds a node by name ("" when absent).
func (s *Server) NodeID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.nodeOrder {
		if s.nodes[id].Name == name {
			return id
		}
	}
	return ""
}

// SetNodeStatus changes a node's status. "down" marks its running and
// pending allocations lost, as Nomad does when heartbeats stop; "ready"
// retries blocked work.
func (s *Server) SetNodeStatus(nodeID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[nodeID]
	if n == nil {
		panic("nomadtest: no node " + nodeID)
	}
	n.Status = status
	n.ModifyIndex = s.nextIndex()
	n.StatusUpdatedAt = s.Now().Unix()
	s.emit("Node", "NodeStreamEvent", n.ID, "", nodeSnap(n))
	if status == "down" {
		for _, id := range s.nodeAllocs[nodeID] {
			a := s.allocs[id]
			if !a.terminal() {
				a.DesiredStatus = "stop"
				a.DesiredDescription = "alloc is lost since its node is down"
				s.setClient(a, "lost", "")
			}
		}
	}
	s.retryBlocked()
}

// RemoveNode forgets a node (node GC after the machine is destroyed).
func (s *Server) RemoveNode(nodeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[nodeID]
	if n == nil {
		return
	}
	delete(s.nodes, nodeID)
	for i, id := range s.nodeOrder {
		if id == nodeID {
			s.nodeOrder = append(s.nodeOrder[:i:i], s.nodeOrder[i+1:]...)
			break
		}
	}
	s.nextIndex()
	s.emit("Node", "NodeDeregistration", nodeID, "", nodeSnap(n))
}

// ---- drain ----

// setDrain applies a drain request (mu held).
func (s *Server) setDrain(n *node, deadline time.Duration, meta map[string]string, markEligible bool, on bool) {
	now := s.Now()
	idx := s.nextIndex()
	n.ModifyIndex = idx
	if on {
		msg := "Node drain strategy set"
		if n.Drain {
			msg = "Node drain strategy updated"
		}
		s.nodeEvent(n, "Drain", msg)
		n.Drain, n.Eligible = true, false
		n.DrainDeadline, n.DrainStarted, n.DrainMeta = deadline, now, meta
		n.LastDrain = map[string]any{"AccessorID": "token:acls-disabled", "Meta": stringMap(meta),
			"StartedAt": now.UTC().Format(time.RFC3339), "Status": "draining", "UpdatedAt": now.UTC().Format(time.RFC3339)}
		s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
		s.checkDrainDone(n.ID)
		return
	}
	if n.Drain {
		s.nodeEvent(n, "Drain", "Node drain disabled")
	}
	if n.Drain && n.LastDrain != nil {
		n.LastDrain["Status"] = "canceled"
		n.LastDrain["UpdatedAt"] = now.UTC().Format(time.RFC3339)
	}
	n.Drain = false
	if markEligible {
		n.Eligible = true
	}
	s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
	s.retryBlocked()
}

// checkDrainDone completes a drain once the node runs nothing (mu held).
func (s *Server) checkDrainDone(nodeID string) {
	n := s.nodes[nodeID]
	if n == nil || !n.Drain {
		return
	}
	for _, id := range s.nodeAllocs[nodeID] {
		if a := s.allocs[id]; !a.terminal() {
			return
		}
	}
	n.Drain = false
	s.nodeEvent(n, "Drain", "Node drain complete")
	if n.LastDrain != nil {
		n.LastDrain["Status"] = "complete"
		n.LastDrain["UpdatedAt"] = s.Now().UTC().Format(time.RFC3339)
	}
	n.ModifyIndex = s.nextIndex()
	s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
}

// ExpireDrain acts as the drain deadline passing: the node's remaining
// allocations are stopped (their tasks killed) and replacements placed
// elsewhere where possible.
func (s *Server) ExpireDrain(nodeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range append([]string(nil), s.nodeAllocs[nodeID]...) {
		a := s.allocs[id]
		if a.terminal() {
			continue
		}
		a.DesiredStatus = "stop"
		a.DesiredDescription = "alloc is being migrated"
		s.killAlloc(a, "")
		if j := s.jobs[nsKey{a.NS, a.JobID}]; j != nil && !j.Stop {
			for _, g := range j.Groups {
				if g.Name == a.TaskGroup {
					f := newFailure()
					if n, devs, groups := s.place(j, g, f); n != nil {
						s.newAlloc(j, g, &eval{ID: newUUID()}, n, devs, groups, a.ID)
					} else {
						j.Queued[g.Name]++
					}
				}
			}
		}
	}
	s.checkDrainDone(nodeID)
}

// nodeEvent adds to a node's event log, which keeps Nomad's last 10.
func (s *Server) nodeEvent(n *node, subsystem, msg string) {
	n.Events = append(n.Events, nodeEvent{Subsystem: subsystem, Message: msg, Index: s.index, Time: s.Now()})
	if len(n.Events) > 10 {
		n.Events = append(n.Events[:0:0], n.Events[len(n.Events)-10:]...)
	}
}
