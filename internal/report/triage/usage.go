package triage

import (
	"fmt"
	"slices"
	"time"

	"github.com/caravan-ml/caravan/internal/record"

	"github.com/hashicorp/nomad/api"
)

// accountUsage fills GPU-hours, cost, utilisation, memory peaks and leak
// verdicts, and the findings and warnings that follow from them.
func accountUsage(r *Report, in Input, allocs []*api.Allocation, now time.Time) {
	rec, u := in.Record, in.Usage
	accountGPUHours(r, rec, u, allocs, now)
	if len(allocs) > 0 {
		a := allocs[0]
		r.Memory.MemLimit = taskMemLimit(a, MainTask(a))
	}
	if u == nil {
		if r.StartedAt != nil && r.GPUs > 0 {
			r.Warnings = append(r.Warnings, "no usage summary from `caravan agent` for this run: utilisation and memory growth are unknown (is the agent running on its node?)")
		}
		return
	}
	hasUtil, hasGPUMem, hasRSS := usageMemory(r, u)
	accountUtil(r, u, hasUtil)
	accountLeaks(r, u, hasGPUMem, hasRSS)
}

// accountGPUHours fills the run's GPU count, GPU-hours and cost. Every
// attempt held its GPUs for as long as it ran, whether or not it used
// them; that is what the pool is paid for. An attempt still running is
// counted up to now.
func accountGPUHours(r *Report, rec *record.Run, u *record.Usage, allocs []*api.Allocation, now time.Time) {
	for _, a := range allocs {
		g := record.AllocGPUs(a)
		if g == 0 && rec != nil {
			g = rec.GPUs
		}
		if g == 0 && u != nil {
			g = u.GPUs
		}
		if a == allocs[0] {
			r.GPUs = g
		}
		if s, f, ok := allocSpan(a); ok {
			if f.IsZero() {
				f = now
			}
			if f.After(s) {
				r.GPUHours += f.Sub(s).Hours() * float64(g)
			}
		}
	}
	if len(allocs) == 0 {
		switch {
		case rec != nil && rec.GPUs > 0:
			r.GPUs = rec.GPUs
		case u != nil:
			r.GPUs = u.GPUs
		}
	}
	if rec != nil && rec.PricePerHour > 0 && rec.GPUsPerNode > 0 {
		r.PricePerGPUHour = rec.PricePerHour / float64(rec.GPUsPerNode)
		cost := r.GPUHours * r.PricePerGPUHour
		r.Cost = &cost
	}
}

// accountUtil fills the GPU utilisation, from the agent's summary or else
// its timeline, and finds low utilisation. Fewer than 3 samples say too
// little to judge.
func accountUtil(r *Report, u *record.Usage, hasUtil bool) {
	tl := u.Timeline
	mean, peak := u.GPUUtilMean, u.GPUUtilPeak
	if mean == 0 && len(tl.GPUUtil) > 0 {
		mean = meanOf(tl.GPUUtil)
	}
	if peak == 0 {
		for _, v := range tl.GPUUtil {
			peak = max(peak, v)
		}
	}
	enough := u.Samples >= 3 || len(tl.GPUUtil) >= 3
	if r.GPUs > 0 && enough && hasUtil {
		r.Util = &Utilisation{Mean: mean, Peak: peak, UsedGPUHours: r.GPUHours * mean, Low: mean < LowUtil}
		if r.Util.Low {
			f := Finding{Kind: KindLowUtil,
				Summary: fmt.Sprintf("this run paid for %s GPU-hours and used %s (mean GPU utilisation %.0f%%)",
					Hours(r.GPUHours), Hours(r.Util.UsedGPUHours), 100*mean),
				Advice: "Feed the GPU faster (more data-loader workers, pinned memory, larger batches) or ask for fewer or smaller GPUs."}
			r.Findings = append(r.Findings, f)
		}
	}
}

// accountLeaks fits a leak line to each memory series the agent measured
// and finds those that leak. A leak that ran into the limit the run died
// of is called the likely cause.
func accountLeaks(r *Report, u *record.Usage, hasGPUMem, hasRSS bool) {
	tl := u.Timeline
	if hasRSS && anyFinite(tl.RSS) {
		r.Leaks = append(r.Leaks, FitLeak(SeriesRSS, tl.T, tl.RSS, float64(r.Memory.MemLimit)))
	}
	if hasGPUMem && anyFinite(tl.GPUMem) {
		r.Leaks = append(r.Leaks, FitLeak(SeriesGPUMem, tl.T, tl.GPUMem, float64(u.GPUMemTotal)))
	}
	for _, l := range r.Leaks {
		if !l.Leaking {
			continue
		}
		f := Finding{Kind: KindLeak, Summary: leakSentence(l)}
		switch {
		case l.Series == SeriesRSS && r.Reason.Kind == KindOOMKilled,
			l.Series == SeriesGPUMem && r.Reason.Kind == KindCUDAOOM:
			f.Advice = "Memory grew steadily until it ran out: a leak (tensors kept alive across steps, a growing cache or history list) is the likely cause, not a limit that is too small."
		case l.Series == SeriesGPUMem:
			f.Advice = "Look for tensors kept across steps (losses appended without .item(), growing caches)."
		default:
			f.Advice = "Look for host-side state that grows every step (lists of metrics, caches, data-loader workers)."
		}
		r.Findings = append(r.Findings, f)
	}
}

// usageMemory fills r's memory figures from u and lists in r.NoData the
// figures u has no source for; it says which figures u has.
func usageMemory(r *Report, u *record.Usage) (hasUtil, hasGPUMem, hasRSS bool) {
	hasUtil = u.Has(record.FigureGPUUtil) && anyFinite(u.Timeline.GPUUtil)
	hasGPUMem, hasRSS = u.Has(record.FigureGPUMem), u.Has(record.FigureRSS)
	if hasGPUMem {
		r.Memory.GPUMemPeak, r.Memory.GPUMemTotal = u.GPUMemPeak, u.GPUMemTotal
	}
	if hasRSS {
		r.Memory.RSSPeak = u.RSSPeak
	}
	if u.MemLimit > 0 {
		r.Memory.MemLimit = u.MemLimit
	}
	if r.GPUs > 0 && !hasUtil {
		r.NoData = append(r.NoData, record.FigureGPUUtil)
	}
	if r.GPUs > 0 && !hasGPUMem {
		r.NoData = append(r.NoData, record.FigureGPUMem)
	}
	if !hasRSS {
		r.NoData = append(r.NoData, record.FigureRSS)
	}
	return hasUtil, hasGPUMem, hasRSS
}

// leakSentence says what a leaking series does, in one line.
func leakSentence(l Leak) string {
	s := fmt.Sprintf("%s grows steadily at %s/hour", SeriesName(l.Series), MiB(l.SlopeMiBPerHour))
	if l.TimeToLimitS != nil {
		if *l.TimeToLimitS == 0 {
			s += fmt.Sprintf(" and has reached its %s limit", BytesIEC(l.LimitBytes))
		} else {
			s += fmt.Sprintf(" and would reach its %s limit in about %s", BytesIEC(l.LimitBytes),
				Human(time.Duration(*l.TimeToLimitS*float64(time.Second))))
		}
	}
	return s
}

// SeriesName is how a report names a leak series (SeriesRSS, SeriesGPUMem).
func SeriesName(s string) string {
	switch s {
	case SeriesRSS:
		return "host memory (RSS)"
	case SeriesGPUMem:
		return "GPU memory"
	}
	return s
}

// taskMemLimit is the memory a task may use before it is OOM-killed: its
// memory_max when oversubscription is on, else its memory.
func taskMemLimit(a *api.Allocation, task string) int64 {
	if a.AllocatedResources == nil || a.AllocatedResources.Tasks[task] == nil {
		return 0
	}
	m := a.AllocatedResources.Tasks[task].Memory
	mb := m.MemoryMB
	if m.MemoryMaxMB > mb {
		mb = m.MemoryMaxMB
	}
	return mb << 20
}

// anyFinite reports whether v holds a number: a series of gaps is no data.
func anyFinite(v []float64) bool {
	for _, x := range v {
		if finite(x) {
			return true
		}
	}
	return false
}

// HasData reports whether r has data for figure (a record.Figure* name).
func (r Report) HasData(figure string) bool { return !slices.Contains(r.NoData, figure) }

func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	n := 0
	for _, x := range v {
		if finite(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}
