package nomadtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The fake's state. Objects are small structs; JSON in Nomad's shapes is
// rendered only when a client reads them (render.go), which keeps a
// register cheap.

type nsKey struct{ ns, id string }

type device struct {
	Vendor, Type, Name string
	IDs                []string
	MemoryMiB          int64
}

// matches reports whether a job's device request name ("gpu",
// "nvidia/gpu", "nvidia/gpu/H100-SIM") selects this device group, as
// Nomad's device name matching does.
func (d *device) matches(req string) bool {
	parts := strings.Split(req, "/")
	switch len(parts) {
	case 1:
		return parts[0] == d.Type
	case 2:
		return parts[0] == d.Vendor && parts[1] == d.Type
	case 3:
		return parts[0] == d.Vendor && parts[1] == d.Type && parts[2] == d.Name
	}
	return false
}

type node struct {
	ID, Name, Pool, Datacenter string
	Status                     string // initializing, ready, down, disconnected
	Eligible                   bool
	Drain                      bool
	DrainDeadline              time.Duration
	DrainStarted               time.Time
	DrainMeta                  map[string]string
	LastDrain                  map[string]any
	CPU                        int   // MHz
	MemoryMB                   int64 // MiB
	Devices                    []*device
	Meta                       map[string]string
	CreateIndex, ModifyIndex   uint64
	StatusUpdatedAt            int64
	Events                     []nodeEvent
}

// nodeEvent is one entry of a node's event log (registration, drains).
type nodeEvent struct {
	Subsystem, Message string
	Index              uint64
	Time               time.Time
}

type taskReq struct {
	Name              string
	CPU               int
	MemoryMB          int64
	DeviceName        string
	DeviceCount       int
	DeviceConstraints []devConstraint
}

type group struct {
	Name  string
	Count int
	Tasks []taskReq
}

func (g *group) cpu() (n int) {
	for _, t := range g.Tasks {
		n += t.CPU
	}
	return n
}

func (g *group) mem() (n int64) {
	for _, t := range g.Tasks {
		n += t.MemoryMB
	}
	return n
}

type job struct {
	NS, ID         string
	Raw            json.RawMessage // the job as submitted, for GET
	Meta           map[string]string
	Type, Pool     string
	Priority       int
	Groups         []*group
	Version        uint64
	CreateIndex    uint64
	ModifyIndex    uint64
	JobModifyIndex uint64
	SubmitTime     int64
	Stop           bool
	Queued         map[string]int // unplaced allocations per group
	Datacenters    []string
}

// taskState is one task's life in an allocation.
type taskState struct {
	State      string // pending, running, dead
	Failed     bool
	StartedAt  time.Time
	FinishedAt time.Time
	Events     []taskEvent
}

type taskEvent struct {
	Type, Display, Message string
	Details                map[string]string
	ExitCode, Signal       int
	KillTimeout            time.Duration
	FailsTask              bool
	Time                   int64
}

type alloc struct {
	ID, EvalID, Name, NS      string
	NodeID, NodeName          string
	JobID, TaskGroup, JobType string
	JobVersion                uint64
	ClientStatus              string
	DesiredStatus             string
	ClientDescription         string
	DesiredDescription        string
	Devices                   map[string][]string // task -> device instance IDs
	DeviceGroup               map[string]*device  // task -> group
	Tasks                     []taskReq
	States                    map[string]*taskState
	NextAllocation            string
	PreviousAllocation        string
	FollowupEvalID            string
	RescheduleEvents          []map[string]any
	CreateIndex, ModifyIndex  uint64
	AllocModifyIndex          uint64
	CreateTime, ModifyTime    int64
	Logs                      map[string][]byte // "task/stdout"
	CPUPercent, RSSBytes      float64
}

func (a *alloc) terminal() bool {
	switch a.ClientStatus {
	case "complete", "failed", "lost":
		return true
	}
	return false
}

// holdsResources: what the scheduler counts against a node.
func (a *alloc) holdsResources() bool {
	return !a.terminal() && a.DesiredStatus == "run"
}

type failure struct {
	NodesEvaluated     int
	NodesFiltered      int
	NodesExhausted     int
	NodesInPool        int
	NodesAvailable     map[string]int
	ConstraintFiltered map[string]int
	DimensionExhausted map[string]int
	CoalescedFailures  int
}

type eval struct {
	ID, NS, JobID, Type    string
	Status                 string // pending, complete, blocked, canceled
	StatusDescription      string
	TriggeredBy            string
	BlockedEval            string
	PreviousEval           string
	NodeID                 string
	Priority               int
	JobModifyIndex         uint64
	Failed                 map[string]*failure
	Queued                 map[string]int
	Place, Stop            map[string]int
	Pool                   string
	Purge                  bool // a job-deregister that purged the job
	CreateIndex            uint64
	ModifyIndex            uint64
	CreateTime, ModifyTime int64
}

type variable struct {
	NS, Path                 string
	Items                    map[string]string
	CreateIndex, ModifyIndex uint64
	CreateTime, ModifyTime   int64
	Lock                     *api.VariableLock
	LockExpires              time.Time
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
