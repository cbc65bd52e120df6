package autoscale

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// report logs a decision and updates the per-pool gauges.
func (l *Loop) report(p *poolRun, d decide.Decision, now time.Time) {
	counts := nodeCounts(p.state)
	l.met.setNodes(p.name, counts)
	l.met.pending.WithLabelValues(p.name).Set(float64(len(p.state.Pending)))
	l.met.unschedulable.WithLabelValues(p.name).Set(float64(len(d.Unschedulable)))
	if d.Changed() || p.last.Time.IsZero() {
		p.last = RecordedDecision{Time: now, Reason: reasonOf(d), Actions: d.Actions, Target: d.TargetNodes}
	}
	attrs := []any{"pool", p.name, "reason", reasonOf(d), "target", d.TargetNodes, "pending", len(p.state.Pending)}
	if d.Changed() {
		l.log.Info("decision", append(attrs, "actions", describeActions(d.Actions))...)
	} else {
		l.log.Debug("decision", attrs...)
	}
	for _, r := range d.Unschedulable {
		l.log.Warn("queued run can never fit one node of the pool; not scaling for it", "pool", p.name, "run", r.RunID, "job", r.JobID,
			"gpus", r.Resources.GPUs, "cpu_mhz", r.Resources.CPU, "memory_bytes", r.Resources.Memory)
	}
}

func (l *Loop) printDry(p *poolRun, d decide.Decision) {
	line := fmt.Sprintf("pool %s: %s; target %v", p.name, reasonOf(d), d.TargetNodes)
	if d.Changed() {
		line = fmt.Sprintf("pool %s: %s; %s; target %v", p.name, reasonOf(d), describeActions(d.Actions), d.TargetNodes)
	}
	if line != p.lastPrint {
		fmt.Fprintf(l.cfg.DryRunOut, "%s [dry-run] %s\n", l.cfg.Now().UTC().Format(time.RFC3339), line)
		p.lastPrint = line
	}
	// A dry run never acts, so the history advances as if it had: the next
	// decision then shows what would follow.
	p.history = d.History
}

func describeActions(as []decide.Action) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s %s", a.Kind, strings.Join(a.Nodes, ",")))
	}
	return strings.Join(parts, "; ")
}

func nodeCounts(ps decide.PoolState) map[string]int {
	c := map[string]int{"booting": len(ps.Booting)}
	for _, n := range ps.Nodes {
		switch {
		case n.Misplaced:
			c["misplaced"]++
		case n.Status == decide.NodeDown || n.Status == decide.NodeDisconnected:
			c["down"]++
		case n.Status != decide.NodeReady:
			c["initializing"]++
		case n.Draining || (!n.Eligible && n.Allocs == 0 && ps.History.ScalingIn(n.Name)):
			c["draining"]++
		case !n.Eligible:
			c["cordoned"]++
		default:
			c["ready"]++
		}
	}
	return c
}

func nodeDraining(ps decide.PoolState, name string) bool {
	for _, n := range ps.Nodes {
		if n.Name == name {
			return n.Draining
		}
	}
	return false
}

func nodeNames(ns []decide.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

func diff(before, after []string) (added, removed []string) {
	for _, n := range after {
		if !slices.Contains(before, n) {
			added = append(added, n)
		}
	}
	for _, n := range before {
		if !slices.Contains(after, n) {
			removed = append(removed, n)
		}
	}
	return added, removed
}

// reasonOf is the decision's reason, or its actions' reasons when the
// summary does not mention them (a decision that only removes drained
// nodes), so that no change is ever recorded as "no change".
func reasonOf(d decide.Decision) string {
	if !d.Changed() || (d.Reason != "" && d.Reason != "no change") {
		return d.Reason
	}
	var parts []string
	for _, a := range d.Actions {
		if a.Reason != "" && !slices.Contains(parts, a.Reason) {
			parts = append(parts, a.Reason)
		}
	}
	return strings.Join(parts, "; ")
}
