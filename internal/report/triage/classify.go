package triage

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

func outcomeOf(a *api.Allocation, ts *api.TaskState, killed bool) string {
	switch a.ClientStatus {
	case api.AllocClientStatusPending:
		return OutcomeStarting
	case api.AllocClientStatusRunning:
		return OutcomeRunning
	case api.AllocClientStatusComplete:
		if exceededMaxRun(a) {
			// Nomad marks an allocation it stopped at its
			// max_run_duration complete; the run did not finish.
			return OutcomeFailed
		}
		if killed && a.DesiredStatus != api.AllocDesiredStatusRun {
			return OutcomeStopped
		}
		return OutcomeComplete
	case api.AllocClientStatusFailed:
		return OutcomeFailed
	case api.AllocClientStatusLost:
		return OutcomeLost
	}
	return OutcomeUnknown
}

// runTimeout is the experiment's timeout from the job meta caravan wrote
// (on the allocation's job, else in the record's compiled job), else the
// task group's max_run_duration, Nomad's own limit.
func runTimeout(rec *record.Run, allocs []*api.Allocation) time.Duration {
	for _, a := range allocs {
		if a.Job != nil {
			if d, err := time.ParseDuration(a.Job.Meta[record.MetaTimeout]); err == nil {
				return d
			}
		}
	}
	for _, a := range allocs {
		if a.Job == nil {
			continue
		}
		for _, tg := range a.Job.TaskGroups {
			if tg != nil && tg.Name != nil && *tg.Name == a.TaskGroup && tg.MaxRunDuration != nil && *tg.MaxRunDuration > 0 {
				return *tg.MaxRunDuration
			}
		}
	}
	if rec != nil && len(rec.Job) > 0 {
		var j struct {
			Meta map[string]string
			Job  *struct{ Meta map[string]string } // {"Job":{...}} form
		}
		if json.Unmarshal(rec.Job, &j) == nil {
			m := j.Meta
			if j.Job != nil {
				m = j.Job.Meta
			}
			if d, err := time.ParseDuration(m[record.MetaTimeout]); err == nil {
				return d
			}
		}
	}
	return 0
}

// oomEvent is the Terminated event Nomad marks as an OOM kill: drivers set
// Details["oom_killed"]="true" and the message "OOM Killed".
func oomEvent(ts *api.TaskState) *api.TaskEvent {
	if ts == nil {
		return nil
	}
	for i := len(ts.Events) - 1; i >= 0; i-- {
		e := ts.Events[i]
		if e == nil {
			continue
		}
		if e.Details["oom_killed"] == "true" || containsAny(e.DisplayMessage+" "+e.Message, "oom killed", "oom-killed") {
			return e
		}
	}
	return nil
}

var timeoutWords = []string{"timeout", "timed out", "max_run_duration", "max run duration", "deadline"}

// timeoutEvidence quotes kill reasons and the stop description when they
// say a time limit was hit (Nomad's max_run_duration, caravan's controller).
func timeoutEvidence(a *api.Allocation, ts *api.TaskState) []string {
	var out []string
	if containsAny(a.DesiredDescription, timeoutWords...) {
		out = append(out, a.DesiredDescription)
	}
	if exceededMaxRun(a) {
		out = append(out, "Nomad: "+a.ClientDescription)
	}
	if ts != nil {
		for _, e := range ts.Events {
			if e != nil && (e.Type == api.TaskKilling || e.Type == api.TaskKilled) &&
				containsAny(e.KillReason+" "+e.DisplayMessage+" "+e.Details["kill_reason"], timeoutWords...) {
				out = append(out, eventLine(e))
			}
		}
	}
	return out
}

func killMessage(ts *api.TaskState) string {
	if e := lastEvent(ts, api.TaskKilling); e != nil {
		return eventLine(e)
	}
	return ""
}

// setupFailure is the event that kept a task from starting, if any.
func setupFailure(ts *api.TaskState) *api.TaskEvent {
	for _, typ := range []string{api.TaskDriverFailure, api.TaskSetupFailure, api.TaskArtifactDownloadFailed, api.TaskFailedValidation} {
		if e := lastEvent(ts, typ); e != nil {
			return e
		}
	}
	return nil
}

// cudaOOM matches the ways CUDA, cuBLAS, cuDNN, PyTorch, TensorFlow and
// JAX/XLA say the GPU ran out of memory.
var cudaOOM = matcher{keywords: []string{"out of memory", "out_of_memory", "alloc_failed", "memoryallocation", "outofmemory", "oom when allocating"},
	re: regexp.MustCompile(`(?i)CUDA out of memory|CUDA error: out of memory|` +
		`CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY|` +
		`torch\.(cuda\.)?OutOfMemoryError|RESOURCE_EXHAUSTED: Out of memory|OOM when allocating tensor|` +
		`NCCL.*Cuda failure 'out of memory'`)}

// matcher finds lines by a regexp, cheaply: a line is handed to the
// regexp only if its lower-case form contains one of the keywords, which
// every match must contain. A 64 KiB stderr tail holds thousands of lines
// and almost none match; running the case-insensitive pattern on each of
// them, or once over the whole text, costs ten times more.
type matcher struct {
	re       *regexp.Regexp
	keywords []string
}

// lines returns up to n distinct lines of s that match.
func (m matcher) lines(s string, n int) []string {
	var out []string
	for len(s) > 0 && len(out) < n {
		l := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			l, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if !m.candidate(l) {
			continue
		}
		if l = strings.TrimSpace(l); m.re.MatchString(l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func (m matcher) candidate(line string) bool {
	lower := strings.ToLower(line)
	for _, k := range m.keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

func lastEvent(ts *api.TaskState, typ string) *api.TaskEvent {
	if ts == nil {
		return nil
	}
	for i := len(ts.Events) - 1; i >= 0; i-- {
		if e := ts.Events[i]; e != nil && e.Type == typ {
			return e
		}
	}
	return nil
}

func hasEvent(ts *api.TaskState, typ string) bool { return lastEvent(ts, typ) != nil }

// eventLine renders an event as `nomad alloc status` shows it.
func eventLine(e *api.TaskEvent) string {
	msg := e.DisplayMessage
	if msg == "" {
		msg = e.Message
	}
	if msg == "" {
		return e.Type
	}
	return e.Type + ": " + msg
}

// eventLines is the last n events, for when nothing more specific is known.
func eventLines(ts *api.TaskState, n int) []string {
	if ts == nil {
		return nil
	}
	var out []string
	for _, e := range ts.Events[max(0, len(ts.Events)-n):] {
		if e != nil {
			out = append(out, eventLine(e))
		}
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
