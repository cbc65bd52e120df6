// Reading Nomad's node, allocation and job shapes into the three
// dimensions caravan packs (GPUs, CPU, memory).

package autoscale

import (
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

func findGroup(j *api.Job, name string) *api.TaskGroup {
	for _, tg := range j.TaskGroups {
		if tg.Name != nil && *tg.Name == name {
			return tg
		}
	}
	return nil
}

// groupResources is what one allocation of tg asks for: the sum over its
// tasks of CPU, memory and devices matching the pool's GPU device name.
func groupResources(tg *api.TaskGroup, gpu string) decide.Resources {
	var r decide.Resources
	for _, t := range tg.Tasks {
		if t.Resources == nil {
			continue
		}
		switch {
		case t.Resources.CPU != nil && *t.Resources.CPU > 0:
			r.CPU += *t.Resources.CPU
		case t.Resources.Cores != nil && *t.Resources.Cores > 0:
			// Cores reserve whole cores; without the node's MHz per
			// core, count a core as 1000 MHz for packing.
			r.CPU += *t.Resources.Cores * 1000
		}
		if t.Resources.MemoryMB != nil {
			r.Memory += int64(*t.Resources.MemoryMB) << 20
		}
		for _, d := range t.Resources.Devices {
			if d != nil && deviceMatches(gpu, "", "", "", d.Name) && d.Count != nil {
				r.GPUs += int(*d.Count)
			}
		}
	}
	return r
}

// blockedReasons turns Nomad's placement metrics into short reasons.
func blockedReasons(m *api.AllocationMetric) []string {
	var out []string
	if m.NodesInPool == 0 && m.NodesEvaluated == 0 {
		out = append(out, "no nodes in pool")
	}
	for k := range m.ConstraintFiltered {
		out = append(out, k)
	}
	for k := range m.DimensionExhausted {
		out = append(out, "exhausted: "+k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = append(out, "no capacity")
	}
	return out
}

// buildNode turns a Nomad node and its allocations into a Node.
func buildNode(n *api.NodeListStub, allocs []*api.Allocation, gpu string, now time.Time) decide.Node {
	node := decide.Node{
		Name:     n.Name,
		ID:       n.ID,
		Status:   decide.NodeStatus(n.Status),
		Eligible: n.SchedulingEligibility == api.NodeSchedulingEligible,
		Draining: n.Drain,
	}
	if r := n.NodeResources; r != nil {
		node.Total.CPU = int(r.Cpu.CpuShares)
		node.Total.Memory = r.Memory.MemoryMB << 20
		for _, d := range r.Devices {
			if d == nil || !deviceMatches(gpu, d.Vendor, d.Type, d.Name, "") {
				continue
			}
			for _, inst := range d.Instances {
				if inst != nil && inst.Healthy {
					node.Total.GPUs++
				}
			}
		}
	}
	if rr := n.ReservedResources; rr != nil {
		node.Total.CPU -= int(rr.Cpu.CpuShares)
		node.Total.Memory -= int64(rr.Memory.MemoryMB) << 20
	}
	for _, a := range allocs {
		if a == nil || isSystemJob(a) {
			continue
		}
		if active(a) {
			node.Allocs++
			node.Used = node.Used.Add(allocResources(a, gpu))
			node.LastBusy = now
			node.Work = append(node.Work, workOf(a, gpu))
			continue
		}
		if t := time.Unix(0, a.ModifyTime); a.ModifyTime > 0 && t.After(node.LastBusy) {
			node.LastBusy = t
		}
	}
	return node
}

// active reports whether an allocation holds its node: pending or running
// on the client. Its desired status does not matter: one being stopped or
// evicted still holds resources (and its process) until the client
// reports it terminal.
func active(a *api.Allocation) bool {
	return a.ClientStatus == api.AllocClientStatusPending || a.ClientStatus == api.AllocClientStatusRunning
}

func isSystemJob(a *api.Allocation) bool {
	if a.Job == nil || a.Job.Type == nil {
		return false
	}
	t := *a.Job.Type
	return t == api.JobTypeSystem || t == api.JobTypeSysbatch
}

// allocResources is what an allocation holds of the three dimensions.
func allocResources(a *api.Allocation, gpu string) decide.Resources {
	var r decide.Resources
	if a.AllocatedResources == nil {
		return r
	}
	for _, t := range a.AllocatedResources.Tasks {
		if t == nil {
			continue
		}
		r.CPU += int(t.Cpu.CpuShares)
		r.Memory += t.Memory.MemoryMB << 20
		for _, d := range t.Devices {
			if d != nil && deviceMatches(gpu, d.Vendor, d.Type, d.Name, "") {
				r.GPUs += len(d.DeviceIDs)
			}
		}
	}
	return r
}

// runGPUs sums active allocations' GPUs by caravan run (job meta).
func runGPUs(allocs []*api.Allocation, gpu string) map[string]int {
	out := map[string]int{}
	for _, a := range allocs {
		if a == nil || !active(a) || isSystemJob(a) {
			continue
		}
		g := allocResources(a, gpu).GPUs
		if g == 0 {
			continue
		}
		run := a.JobID
		if a.Job != nil && a.Job.Meta[record.MetaRunID] != "" {
			run = a.Job.Meta[record.MetaRunID]
		}
		out[run] += g
	}
	return out
}

// deviceMatches reports whether a device (vendor/type/name) or a requested
// device name (req: "gpu", "nvidia/gpu" or "nvidia/gpu/A100") is the pool's
// GPU (configured the same way). Either the device triple or req is given.
func deviceMatches(pool, vendor, typ, name, req string) bool {
	wv, wt, wn := splitDevice(pool)
	if req != "" {
		// A request names at most what the pool names; the scheduler
		// places it on the pool's GPUs when the parts it names agree.
		rv, rt, rn := splitDevice(req)
		return rt == wt && (rv == "" || wv == "" || rv == wv) && (rn == "" || wn == "" || rn == wn)
	}
	return typ == wt && (wv == "" || vendor == wv) && (wn == "" || name == wn)
}

// splitDevice splits a Nomad device name, "type", "vendor/type" or
// "vendor/type/name" (a name may itself contain slashes), into its parts.
func splitDevice(s string) (vendor, typ, name string) {
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 1:
		return "", parts[0], ""
	case 2:
		return parts[0], parts[1], ""
	}
	return parts[0], parts[1], strings.Join(parts[2:], "/")
}

// gpuDevice is the pool's GPU device name, default nvidia/gpu.
func gpuDevice(p *spec.Pool) string {
	if p == nil || p.GPU == "" {
		return "nvidia/gpu"
	}
	return p.GPU
}

func nodePoolOf(name string, p *spec.Pool) string {
	if p != nil && p.NodePool != "" {
		return p.NodePool
	}
	return name
}

func nodePoolName(s string) string {
	if s == "" {
		return "default"
	}
	return s
}
