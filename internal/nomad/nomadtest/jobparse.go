package nomadtest

import (
	"encoding/json"
	"errors"
	"fmt"
)

// errMissingID is Nomad's own wording for a job without an ID.
//
//lint:ignore ST1005 Nomad's exact text
var errMissingID = errors.New("1 error occurred:\n\t* Missing job ID\n\n")

// lightJob is the part of a submitted job the scheduler reads; decoding
// only it keeps registrations cheap (the full job stays as raw JSON).
type lightJob struct {
	ID, Namespace, Type, NodePool *string
	Priority                      *int
	Meta                          map[string]string
	Datacenters                   []string
	TaskGroups                    []struct {
		Name  *string
		Count *int
		Tasks []struct {
			Name      string
			Resources *struct {
				CPU      *int
				MemoryMB *int
				Devices  []struct {
					Name        string
					Count       *uint64
					Constraints []devConstraint
				}
			}
		}
	}
}

// parseJob reads what the scheduler needs from a submitted job.
func parseJob(raw json.RawMessage, reqNS string) (*job, error) {
	var aj lightJob
	if err := json.Unmarshal(raw, &aj); err != nil {
		return nil, fmt.Errorf("failed to decode job: %v", err)
	}
	if aj.ID == nil || *aj.ID == "" {
		return nil, errMissingID
	}
	j := &job{ID: *aj.ID, NS: reqNS, Raw: raw, Meta: aj.Meta, Type: "service", Pool: "default", Priority: 50, Datacenters: aj.Datacenters}
	if aj.Namespace != nil && *aj.Namespace != "" {
		j.NS = *aj.Namespace
	}
	if aj.Type != nil && *aj.Type != "" {
		j.Type = *aj.Type
	}
	if aj.NodePool != nil && *aj.NodePool != "" {
		j.Pool = *aj.NodePool
	}
	if aj.Priority != nil {
		j.Priority = *aj.Priority
	}
	for _, tg := range aj.TaskGroups {
		g := &group{Name: deref(tg.Name), Count: 1}
		if tg.Count != nil {
			g.Count = *tg.Count
		}
		for _, t := range tg.Tasks {
			tr := taskReq{Name: t.Name, CPU: 100, MemoryMB: 300}
			if r := t.Resources; r != nil {
				if r.CPU != nil {
					tr.CPU = *r.CPU
				}
				if r.MemoryMB != nil {
					tr.MemoryMB = int64(*r.MemoryMB)
				}
				for _, d := range r.Devices {
					tr.DeviceName = d.Name
					tr.DeviceConstraints = append(tr.DeviceConstraints, d.Constraints...)
					if d.Count != nil {
						tr.DeviceCount += int(*d.Count)
					} else {
						tr.DeviceCount++
					}
				}
			}
			g.Tasks = append(g.Tasks, tr)
		}
		j.Groups = append(j.Groups, g)
	}
	return j, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
