package triage

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Input is everything Triage looks at. Gather fills it from Nomad; tests
// build it by hand.
type Input struct {
	RunID  string
	Record *record.Run   // nil when the run has no record
	Usage  *record.Usage // nil when the agent wrote no usage summary
	// Allocs are the run's allocations with task states and events, in any
	// order; the most recent one (highest CreateIndex) is the run's outcome.
	Allocs []*api.Allocation
	// Stderr is the tail of the main task's stderr of StderrAlloc (the
	// most recent allocation), as read through Nomad's logs API.
	Stderr      string
	StderrAlloc string
	// Outcome is how the run ended as the controller recorded it when it
	// did; Triage uses it when Nomad no longer has the run's allocations.
	Outcome *record.Outcome
	// Moves are the run's moves (caravan migrate, the autoscaler,
	// preemptions), oldest first.
	Moves []record.Move
	// Stall is the controller's stall marker, when it found the run
	// stalled (stall_timeout).
	Stall *record.Stall
	// Warnings are problems met while gathering the input (unreadable
	// logs, a garbage-collected job); the report repeats them.
	Warnings []string
	// Now is the clock for allocations still running. Zero means the time
	// of the latest event or usage sample, which keeps Triage pure.
	Now time.Time
}

// Run outcomes: the run states of record.RunState.
const (
	OutcomeQueued   = "queued"
	OutcomeStarting = "starting"
	OutcomeRunning  = "running"
	OutcomeComplete = "complete"
	OutcomeFailed   = "failed"
	OutcomeLost     = "lost"
	OutcomeStopped  = "stopped"
	OutcomeUnknown  = "unknown"
)

// Finding kinds: the classified reasons a run ended (or has not).
const (
	KindSuccess   = "success"
	KindOOMKilled = "oom-killed"
	KindCUDAOOM   = "cuda-oom"
	KindXID       = "gpu-xid"
	KindLost      = "lost"
	KindEvicted   = "evicted"
	KindTimeout   = "timeout"
	KindStopped   = "stopped"
	KindSetup     = "setup-error"
	// KindSourceNotFound is a run whose source commit is not in its
	// repository: Nomad could not fetch the code.
	KindSourceNotFound = "source-not-found"
	KindUserError      = "user-error"
	KindRunning        = "running"
	KindStarting       = "starting"
	KindQueued         = "queued"
	KindUnknown        = "unknown"
	// KindStalled is a run that printed nothing, wrote no metric and used
	// ~0 CPU and GPU for its stall_timeout.
	KindStalled = "stalled"
	// Findings that are not reasons on their own.
	KindLowUtil = "low-gpu-util"
	KindLeak    = "memory-leak"
	KindAttempt = "earlier-attempt"
)

// Finding is one classified fact: the reason the run ended, or something
// else worth knowing.
type Finding struct {
	Kind     string   `json:"kind"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence,omitempty"` // quoted event messages and log lines
	Advice   string   `json:"advice,omitempty"`
}

// AllocSummary names the allocation a report is about.
type AllocSummary struct {
	ID                 string `json:"id"`
	NodeID             string `json:"node_id,omitempty"`
	Node               string `json:"node,omitempty"`
	Task               string `json:"task,omitempty"`
	ClientStatus       string `json:"client_status"`
	DesiredStatus      string `json:"desired_status"`
	DesiredDescription string `json:"desired_description,omitempty"`
}

// Report is the triage of one run.
type Report struct {
	RunID      string `json:"run_id"`
	Experiment string `json:"experiment,omitempty"`
	Pool       string `json:"pool,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	JobID      string `json:"job_id,omitempty"`

	Outcome  string        `json:"outcome"`
	ExitCode *int          `json:"exit_code,omitempty"` // nil when the task never exited
	Signal   int           `json:"signal,omitempty"`
	Reason   Finding       `json:"reason"`
	Findings []Finding     `json:"findings,omitempty"` // secondary: XIDs on a healthy run, earlier attempts, low utilisation, leaks
	Alloc    *AllocSummary `json:"alloc,omitempty"`
	Attempts int           `json:"attempts"`

	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	RuntimeS   float64    `json:"runtime_s"`           // of the latest attempt
	TimeoutS   float64    `json:"timeout_s,omitempty"` // the experiment's timeout

	GPUs            int      `json:"gpus"`
	GPUHours        float64  `json:"gpu_hours"` // all attempts
	PricePerGPUHour float64  `json:"price_per_gpu_hour,omitempty"`
	Cost            *float64 `json:"cost,omitempty"` // nil when no pool price is known

	Util   *Utilisation `json:"gpu_util,omitempty"` // nil without a usage summary, or without data
	Memory Memory       `json:"memory"`
	// NoData lists the figures (record.Figure* names: gpu_util, gpu_mem,
	// rss) the agent had no source for: the run's GPUs report no
	// utilisation, say. They are unknown, not 0.
	NoData []string `json:"no_data,omitempty"`
	Leaks  []Leak   `json:"leaks,omitempty"`
	// Moves lists every move of the run and MoveGPUHours what they cost.
	Moves        []MoveSummary `json:"moves,omitempty"`
	MoveGPUHours float64       `json:"move_gpu_hours,omitempty"`
	Warnings     []string      `json:"warnings,omitempty"`

	// Stall is the controller's stall marker, when it found the run
	// stalled.
	Stall *record.Stall `json:"stall,omitempty"`

	// StderrTail holds the last lines of stderr shown with the diagnosis.
	StderrTail []string `json:"stderr_tail,omitempty"`
	// Timeline is the usage timeline the sparklines and plots draw.
	Timeline *record.Timeline `json:"-"`
}

// Utilisation is how much of its GPUs the run used.
type Utilisation struct {
	Mean         float64 `json:"mean"` // ratio 0-1
	Peak         float64 `json:"peak"`
	UsedGPUHours float64 `json:"used_gpu_hours"` // GPUHours × Mean
	Low          bool    `json:"low"`            // Mean below LowUtil
}

// Memory holds peaks and limits in bytes; 0 means unknown.
type Memory struct {
	GPUMemPeak  int64 `json:"gpu_mem_peak_bytes,omitempty"`
	GPUMemTotal int64 `json:"gpu_mem_total_bytes,omitempty"`
	RSSPeak     int64 `json:"rss_peak_bytes,omitempty"`
	MemLimit    int64 `json:"mem_limit_bytes,omitempty"`
}

// LowUtil is the mean GPU utilisation below which a report warns.
const LowUtil = 0.30

// stderrTailLines is how many stderr lines a failure report quotes.
const stderrTailLines = 8

// Triage explains a run. It is pure: the same Input gives the same Report.
func Triage(in Input) Report {
	r := Report{RunID: in.RunID}
	if rec := in.Record; rec != nil {
		r.RunID = cmp.Or(rec.RunID, r.RunID)
		r.Experiment, r.Pool, r.Namespace = rec.Experiment, rec.Pool, rec.Namespace
	}
	allocs := LatestFirst(in.Allocs)
	r.Moves, r.MoveGPUHours = summariseMoves(in.Moves, allocs)
	r.Attempts = len(allocs)
	now := clock(in, allocs)
	timeout := runTimeout(in.Record, allocs)
	r.TimeoutS = timeout.Seconds()
	if in.Usage != nil && in.Usage.Timeline.T != nil {
		tl := in.Usage.Timeline
		r.Timeline = &tl
	}

	if len(allocs) == 0 && in.Outcome != nil {
		fromOutcome(&r, in.Outcome)
	} else if len(allocs) == 0 {
		r.Outcome = OutcomeQueued
		r.Reason = Finding{Kind: KindQueued, Summary: "Nomad has not placed the run yet",
			Advice: "`caravan status` shows why it waits (blocked evaluation, missing devices, an empty pool)."}
	} else {
		a := allocs[0]
		r.JobID = a.JobID
		task := MainTask(a)
		r.Alloc = &AllocSummary{ID: a.ID, NodeID: a.NodeID, Node: a.NodeName, Task: task,
			ClientStatus: a.ClientStatus, DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription}
		if s, f, ok := allocSpan(a); ok {
			r.StartedAt = &s
			end := now
			if !f.IsZero() {
				r.FinishedAt = &f
				end = f
			}
			r.RuntimeS = max(0, end.Sub(s).Seconds())
		}
		c := classify(a, task, in.Stderr, usageFor(in.Usage, a), timeout, now)
		r.Outcome, r.ExitCode, r.Signal, r.Reason = c.outcome, c.exitCode, c.signal, c.reason
		r.Findings = append(r.Findings, c.others...)
		if c.reason.Kind != KindSuccess && c.reason.Kind != KindRunning {
			r.StderrTail = lastLines(in.Stderr, stderrTailLines)
		}
		for i, old := range allocs[1:] {
			oc := classify(old, MainTask(old), "", usageFor(in.Usage, old), timeout, now)
			if oc.reason.Kind == KindSuccess {
				continue
			}
			f := oc.reason
			f.Summary = "attempt " + itoa(len(allocs)-1-i) + " (alloc " + ShortID(old.ID) + "): " + f.Summary
			f.Kind, f.Advice = KindAttempt, ""
			r.Findings = append(r.Findings, f)
		}
	}
	applyStall(&r, in.Stall, in.Outcome)
	accountUsage(&r, in, allocs, now)
	r.Warnings = append(r.Warnings, in.Warnings...)
	return r
}

// fromOutcome reports a run whose job Nomad collected from the outcome
// the controller recorded when it ended: the same verdict report gave
// then, with the end of its stderr.
func fromOutcome(r *Report, o *record.Outcome) {
	r.Outcome = string(o.State)
	r.ExitCode = o.ExitCode
	r.Reason = Finding{Kind: o.Reason, Summary: o.Summary}
	r.Attempts = o.Attempts
	if !o.StartedAt.IsZero() {
		s := o.StartedAt
		r.StartedAt = &s
		if !o.FinishedAt.IsZero() {
			f := o.FinishedAt
			r.FinishedAt = &f
			r.RuntimeS = max(0, f.Sub(s).Seconds())
		}
	}
	if o.AllocID != "" {
		r.Alloc = &AllocSummary{ID: o.AllocID, Node: o.Node, ClientStatus: string(o.State)}
	}
	if o.Reason != KindSuccess {
		r.StderrTail = lastLines(o.Stderr, stderrTailLines)
	}
	r.Warnings = append(r.Warnings, "Nomad no longer has the run's job; this is how it ended as recorded at "+o.RecordedAt.UTC().Format(time.RFC3339))
}

// LatestFirst orders allocations newest first without touching the input.
func LatestFirst(in []*api.Allocation) []*api.Allocation {
	out := make([]*api.Allocation, 0, len(in))
	for _, a := range in {
		if a != nil {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b *api.Allocation) int {
		return cmp.Or(cmp.Compare(b.CreateIndex, a.CreateIndex), cmp.Compare(b.CreateTime, a.CreateTime))
	})
	return out
}

// MainTask picks the task a report is about: a failed task first, then one
// that exited non-zero, then the first task of its group that is not a
// lifecycle hook, then the alphabetically first. Gather reads this task's stderr.
func MainTask(a *api.Allocation) string {
	names := make([]string, 0, len(a.TaskStates))
	for n := range a.TaskStates {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if a.TaskStates[n] != nil && a.TaskStates[n].Failed {
			return n
		}
	}
	for _, n := range names {
		if ev := lastEvent(a.TaskStates[n], api.TaskTerminated); ev != nil && ev.ExitCode != 0 {
			return n
		}
	}
	// The job's task group says which tasks are lifecycle hooks (log
	// shippers, data fetchers); the main task is the first that is not.
	if a.Job != nil {
		for _, tg := range a.Job.TaskGroups {
			if tg == nil || tg.Name == nil || *tg.Name != a.TaskGroup {
				continue
			}
			for _, t := range tg.Tasks {
				if t != nil && (t.Lifecycle == nil || t.Lifecycle.Hook == "") {
					return t.Name
				}
			}
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	if a.AllocatedResources != nil {
		tasks := make([]string, 0, len(a.AllocatedResources.Tasks))
		for n := range a.AllocatedResources.Tasks {
			tasks = append(tasks, n)
		}
		slices.Sort(tasks)
		if len(tasks) > 0 {
			return tasks[0]
		}
	}
	return ""
}

// clock is in.Now, or else the latest instant the inputs mention.
func clock(in Input, allocs []*api.Allocation) time.Time {
	if !in.Now.IsZero() {
		return in.Now
	}
	var t time.Time
	if in.Usage != nil && in.Usage.End.After(t) {
		t = in.Usage.End
	}
	for _, a := range allocs {
		if m := time.Unix(0, a.ModifyTime); a.ModifyTime > 0 && m.After(t) {
			t = m
		}
		for _, ts := range a.TaskStates {
			if ts == nil {
				continue
			}
			if ts.FinishedAt.After(t) {
				t = ts.FinishedAt
			}
			for _, e := range ts.Events {
				if e != nil && time.Unix(0, e.Time).After(t) {
					t = time.Unix(0, e.Time)
				}
			}
		}
	}
	return t
}

// allocSpan is when an allocation's tasks first started and, if all have
// finished, when the last finished.
func allocSpan(a *api.Allocation) (start, finish time.Time, ok bool) {
	running := false
	for _, ts := range a.TaskStates {
		if ts == nil || ts.StartedAt.IsZero() {
			continue
		}
		if start.IsZero() || ts.StartedAt.Before(start) {
			start = ts.StartedAt
		}
		if ts.FinishedAt.IsZero() {
			running = true
		} else if ts.FinishedAt.After(finish) {
			finish = ts.FinishedAt
		}
	}
	if running {
		finish = time.Time{}
	}
	return start, finish, !start.IsZero()
}

// usageFor is u when it describes allocation a (or names none).
func usageFor(u *record.Usage, a *api.Allocation) *record.Usage {
	if u == nil || (u.AllocID != "" && u.AllocID != a.ID) {
		return nil
	}
	return u
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimRight(l, "\r "); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ShortID is the first 8 characters of an allocation or node ID, as Nomad
// prints them.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
