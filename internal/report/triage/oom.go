package triage

import (
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// oomAdvice is what to do about a kill at the memory limit.
const oomAdvice = "Raise `memory` in the experiment's resources, or cut host memory (fewer data-loader workers, smaller prefetch and caches)."

// nearLimit is how close to its limit memory must come for a SIGKILL to
// count as the OOM killer's: the kernel kills at the limit, and the last
// sample before the kill sees a little less.
const nearLimit = 0.95

// oomEvidence is what says a run was killed by the kernel's OOM killer at
// its memory limit: Nomad's task event, the OOM kills the agent counted in
// the run's cgroups or the kernel log (Nomad's raw_exec driver reports
// oom_killed=false for those), or a SIGKILL with memory at, or growing
// into, the limit.
type oomEvidence struct {
	event       *api.TaskEvent // Nomad's OOM event, if any
	kills       int            // OOM kills the agent counted
	killsSource string
	limit       int64   // bytes; 0 unknown
	peak        int64   // the highest memory seen, bytes; 0 unknown
	rate        float64 // bytes/s the memory grew at the end; 0 unknown or not growing
	reached     bool    // peak or its growth reached nearLimit of limit by the end
	lastRSS     float64
	lastAgo     time.Duration // from the last sample to the end
}

// oomEvidenceOf gathers the evidence for an allocation that ended at
// finish (zero: still running), with the task's memory limit.
func oomEvidenceOf(ts *api.TaskState, u *record.Usage, limit int64, finish time.Time) oomEvidence {
	o := oomEvidence{event: oomEvent(ts), limit: limit}
	if u == nil {
		return o
	}
	o.kills, o.killsSource = u.OOMKills, u.Sources[record.FigureOOMKills]
	if u.MemLimit > 0 {
		o.limit = u.MemLimit
	}
	if u.Has(record.FigureRSS) {
		o.peak = u.RSSPeak
	}
	if u.Has(record.FigureMemory) {
		o.peak = max(o.peak, u.MemPeak)
	}
	t, y := lastFinite(u.Timeline.T, u.Timeline.RSS, 12)
	if len(t) >= 2 && t[len(t)-1] > t[0] {
		if slope, _ := theilSen(t, y); slope > 0 {
			o.rate = slope
		}
	}
	if len(t) > 0 {
		o.lastRSS = y[len(y)-1]
		if !finish.IsZero() {
			o.lastAgo = max(0, finish.Sub(u.Start.Add(seconds(t[len(t)-1]))))
		}
	}
	if o.limit > 0 {
		at := float64(o.peak) >= nearLimit*float64(o.limit)
		grown := o.rate > 0 && o.lastRSS+o.rate*o.lastAgo.Seconds() >= nearLimit*float64(o.limit)
		o.reached = at || grown
	}
	return o
}

// finding is the OOM verdict in words: "OOM: killed at its 200 MiB limit,
// growing 8 MiB/s", with what it rests on.
func (o oomEvidence) finding() Finding {
	f := Finding{Kind: KindOOMKilled, Summary: "OOM: killed for using more host memory than its limit", Advice: oomAdvice}
	if o.limit > 0 {
		f.Summary = "OOM: killed at its " + BytesIEC(float64(o.limit)) + " limit"
	}
	if o.rate > 0 {
		f.Summary += ", growing " + BytesIEC(o.rate) + "/s"
	}
	if o.event != nil {
		f.Evidence = append(f.Evidence, eventLine(o.event))
	}
	if o.kills > 0 {
		where := "the run's cgroup"
		if o.killsSource == record.SourceKmsg {
			where = "the run's cgroup, as the kernel log says"
		}
		line := fmt.Sprintf("the kernel's OOM killer killed %d process%s in %s", o.kills, plural(o.kills, "", "es"), where)
		if o.event == nil {
			line += " (Nomad's task event says it was not OOM-killed)"
		}
		f.Evidence = append(f.Evidence, line)
	}
	if o.peak > 0 && o.limit > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("memory peaked at %s of its %s limit", BytesIEC(float64(o.peak)), BytesIEC(float64(o.limit))))
	}
	if o.rate > 0 && o.lastAgo > 0 && !math.IsNaN(o.lastRSS) {
		f.Evidence = append(f.Evidence, fmt.Sprintf("host memory was %s at the last sample, %s before the end, and growing %s/s",
			BytesIEC(o.lastRSS), Human(o.lastAgo), BytesIEC(o.rate)))
	}
	return f
}

// lastFinite is the last n points of t and y where both are numbers.
func lastFinite(t, y []float64, n int) ([]float64, []float64) {
	var ot, oy []float64
	for i := min(len(t), len(y)) - 1; i >= 0 && len(ot) < n; i-- {
		if sane(t[i]) && sane(y[i]) {
			ot, oy = append(ot, t[i]), append(oy, y[i])
		}
	}
	for i, j := 0, len(ot)-1; i < j; i, j = i+1, j-1 {
		ot[i], ot[j] = ot[j], ot[i]
		oy[i], oy[j] = oy[j], oy[i]
	}
	return ot, oy
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
