package nomadtest

import "encoding/json"

// Typed renderings of the hot list answers (GET /v1/jobs with thousands of
// jobs): the same keys as the recorded shapes, checked by the contract
// tests, at a fraction of the cost of generic maps.

type tgSummaryJSON struct {
	Complete, Failed, Lost, Queued, Running, Starting, Unknown int
}

type childrenJSON struct{ Dead, Pending, Running int }

type summaryJSON struct {
	Children    childrenJSON
	CreateIndex uint64
	JobID       string
	ModifyIndex uint64
	Namespace   string
	Summary     map[string]*tgSummaryJSON
}

type jobStubJSON struct {
	CreateIndex       uint64
	Datacenters       []string
	ID                string
	JobModifyIndex    uint64
	JobSummary        *summaryJSON
	Meta              json.RawMessage `json:",omitempty"` // present (maybe null) only with ?meta=true
	ModifyIndex       uint64
	Multiregion       any
	Name              string
	Namespace         string
	NodePool          string
	ParameterizedJob  bool
	ParentID          string
	Periodic          bool
	Priority          int
	Status            string
	StatusDescription string
	Stop              bool
	SubmitTime        int64
	Type              string
}

var nullJSON = json.RawMessage("null")

func (s *Server) summaryOf(j *job) *summaryJSON {
	sum := &summaryJSON{CreateIndex: j.CreateIndex, JobID: j.ID, ModifyIndex: j.ModifyIndex, Namespace: j.NS,
		Summary: make(map[string]*tgSummaryJSON, len(j.Groups))}
	for _, g := range j.Groups {
		sum.Summary[g.Name] = &tgSummaryJSON{Queued: j.Queued[g.Name]}
	}
	for _, id := range s.jobAllocs[nsKey{j.NS, j.ID}] {
		a := s.allocs[id]
		c := sum.Summary[a.TaskGroup]
		if c == nil {
			continue
		}
		switch a.ClientStatus {
		case "pending":
			c.Starting++
		case "running":
			c.Running++
		case "complete":
			c.Complete++
		case "failed":
			c.Failed++
		case "lost":
			c.Lost++
		case "unknown":
			c.Unknown++
		}
		if a.ModifyIndex > sum.ModifyIndex {
			sum.ModifyIndex = a.ModifyIndex
		}
	}
	return sum
}

func (s *Server) jobStub(j *job, withMeta bool) *jobStubJSON {
	dcs := j.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	st := &jobStubJSON{CreateIndex: j.CreateIndex, Datacenters: dcs, ID: j.ID, JobModifyIndex: j.JobModifyIndex,
		JobSummary: s.summaryOf(j), ModifyIndex: j.ModifyIndex, Name: j.ID, Namespace: j.NS, NodePool: j.Pool,
		Priority: j.Priority, Status: s.jobStatus(j), Stop: j.Stop, SubmitTime: j.SubmitTime, Type: j.Type}
	if withMeta {
		st.Meta = nullJSON
		if j.Meta != nil {
			st.Meta, _ = json.Marshal(j.Meta)
		}
	}
	return st
}
