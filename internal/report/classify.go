package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

type classified struct {
	outcome  string
	exitCode *int
	signal   int
	reason   Finding
	others   []Finding
}

// classify decides how one allocation ended and why. The order of the
// checks is the order of causes: a lost node or an OOM kill explains a
// non-zero exit, not the other way round.
func classify(a *api.Allocation, task, stderr string, u *record.Usage, timeout time.Duration, now time.Time) classified {
	var c classified
	ts := a.TaskStates[task]
	term := lastEvent(ts, api.TaskTerminated)
	if term != nil {
		code := term.ExitCode
		if s, ok := term.Details["exit_code"]; ok {
			if n, err := strconv.Atoi(s); err == nil {
				code = n
			}
		}
		c.exitCode = &code
		c.signal = term.Signal
	}
	start, finish, started := allocSpan(a)
	var runtime time.Duration
	if started {
		end := finish
		if end.IsZero() {
			end = now
		}
		runtime = end.Sub(start)
	}
	node := cmp.Or(a.NodeName, short(a.NodeID))
	killed := hasEvent(ts, api.TaskKilling) || hasEvent(ts, api.TaskKilled) ||
		a.DesiredStatus == api.AllocDesiredStatusStop || a.DesiredStatus == api.AllocDesiredStatusEvict

	c.outcome = outcomeOf(a, ts, killed)

	oom := oomEvidenceOf(ts, u, taskMemLimit(a, task), finish)
	xids := xidFindings(u, ts, stderr, node)
	cudaOOMLines := cudaOOM.lines(stderr, 3)
	timeoutText := timeoutEvidence(a, ts)
	pastTimeout := timeout > 0 && runtime >= timeout-timeout/100
	exited := c.exitCode != nil
	failedExit := exited && *c.exitCode != 0
	sigkill := exited && *c.exitCode == 137 || c.signal == 9

	switch c.outcome {
	case OutcomeStarting:
		c.reason = Finding{Kind: KindStarting, Summary: "placed on " + node + ", not started yet",
			Evidence: eventLines(ts, 3)}
	case OutcomeRunning:
		c.reason = Finding{Kind: KindRunning, Summary: "on " + node + " for " + human(runtime)}
		if pastTimeout {
			c.others = append(c.others, Finding{Kind: KindTimeout,
				Summary: "running past its timeout of " + human(timeout),
				Advice:  "caravan stops runs past their timeout; raise `timeout` in the experiment if it needs longer."})
		}
	}
	if c.outcome == OutcomeStarting || c.outcome == OutcomeRunning {
		c.others = append(c.others, xids...)
		return c
	}

	switch {
	case a.ClientStatus == api.AllocClientStatusLost || a.ClientStatus == api.AllocClientStatusUnknown:
		c.reason = Finding{Kind: KindLost, Summary: "node " + node + " stopped answering and the allocation was lost",
			Evidence: nonEmpty(a.ClientDescription, a.DesiredDescription),
			Advice:   "Nothing in the run is at fault. Rerun it (`caravan rerun " + a.JobID + "`); if it keeps happening on " + node + ", tell the cluster admins."}
	case a.DesiredStatus == api.AllocDesiredStatusEvict || containsAny(a.DesiredDescription, "preempt", "evict"):
		c.reason = Finding{Kind: KindEvicted, Summary: "Nomad evicted the allocation from " + node,
			Evidence: nonEmpty(a.DesiredDescription),
			Advice:   "Higher-priority work preempted it or the node was drained. Rerun it, or give the experiment a higher priority."}
	case oom.event != nil || (oom.kills > 0 && (failedExit || c.outcome == OutcomeFailed)):
		c.reason = oom.finding()
	case len(xids) > 0 && (failedExit || !exited || c.outcome == OutcomeFailed):
		c.reason = xids[0]
		c.others = append(c.others, xids[1:]...)
		xids = nil
	case len(cudaOOMLines) > 0 && (failedExit || c.outcome == OutcomeFailed):
		c.reason = Finding{Kind: KindCUDAOOM, Summary: "CUDA ran out of GPU memory",
			Evidence: cudaOOMLines,
			Advice:   "Lower the batch size or sequence length, use mixed precision or activation checkpointing, or ask for a GPU with more memory."}
		cudaOOMLines = nil
	case (killed || exceededMaxRun(a)) && (len(timeoutText) > 0 || pastTimeout):
		c.reason = timeoutFinding(timeout, runtime, pastTimeout, timeoutText)
	case sigkill && oom.reached:
		c.reason = oom.finding()
		c.reason.Evidence = append([]string{"killed by SIGKILL (exit 137) with host memory at its limit: the kernel's OOM killer's way"}, c.reason.Evidence...)
	case killed && c.outcome == OutcomeStopped:
		c.reason = Finding{Kind: KindStopped, Summary: "stopped before it finished",
			Evidence: nonEmpty(a.DesiredDescription, killMessage(ts)),
			Advice:   "Someone (or caravan, after the experiment changed) stopped it; `caravan plan` shows what caravan wants running."}
	case failedExit:
		c.reason = Finding{Kind: KindUserError, Summary: "the program exited with code " + strconv.Itoa(*c.exitCode),
			Evidence: []string{eventLine(term)},
			Advice:   "The end of its stderr is below; `caravan logs " + a.JobID + " -stderr` shows all of it."}
		if c.signal != 0 {
			c.reason.Summary += " (signal " + strconv.Itoa(c.signal) + ")"
		}
	case sourceNotFound(a, ts) != nil:
		c.reason = *sourceNotFound(a, ts)
	case setupFailure(ts) != nil:
		ev := setupFailure(ts)
		c.reason = Finding{Kind: KindSetup, Summary: "the task could not start: " + strings.ToLower(ev.Type),
			Evidence: []string{eventLine(ev)},
			Advice:   "Check the task's image or command, artifacts and driver on " + node + "."}
	case c.outcome == OutcomeComplete:
		c.reason = Finding{Kind: KindSuccess, Summary: "finished successfully"}
	default:
		c.reason = Finding{Kind: KindUnknown, Summary: "ended without an exit code Nomad recorded",
			Evidence: eventLines(ts, 3),
			Advice:   "`caravan show " + a.JobID + "` shows the full event history."}
	}
	// What was seen but did not end the run is still worth a line.
	if oom.kills > 0 && c.reason.Kind != KindOOMKilled {
		c.others = append(c.others, Finding{Kind: KindOOMKilled,
			Summary: fmt.Sprintf("the kernel's OOM killer killed %d process%s of the run, which carried on (a data-loader worker, typically)", oom.kills, plural(oom.kills, "", "es")),
			Advice:  oomAdvice})
	}
	c.others = append(c.others, xids...)
	if len(cudaOOMLines) > 0 {
		c.others = append(c.others, Finding{Kind: KindCUDAOOM, Summary: "stderr mentions CUDA running out of memory", Evidence: cudaOOMLines})
	}
	return c
}

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
