package triage

import (
	"cmp"
	"fmt"
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

// evidence is everything classify weighs about one allocation, gathered
// once so that each step below reads the same facts.
type evidence struct {
	ts          *api.TaskState
	term        *api.TaskEvent // the task's last Terminated event, if any
	node        string
	runtime     time.Duration
	timeout     time.Duration
	pastTimeout bool
	killed      bool // stopped, evicted or sent a kill by Nomad
	exited      bool
	failedExit  bool
	sigkill     bool
	oom         oomEvidence
	// xids and cudaOOM are the findings not yet used as the reason: the
	// step that makes one of them the reason takes it, and what is left is
	// reported beside the reason.
	xids        []Finding
	cudaOOM     []string
	timeoutText []string
}

// classify decides how one allocation ended and why. The order of the
// checks is the order of causes: a lost node or an OOM kill explains a
// non-zero exit, not the other way round.
func classify(a *api.Allocation, task, stderr string, u *record.Usage, timeout time.Duration, now time.Time) classified {
	var c classified
	e := gatherEvidence(a, task, stderr, u, timeout, now)
	if e.term != nil {
		code := exitCodeOf(e.term)
		c.exitCode = &code
		c.signal = e.term.Signal
	}
	e.exited = c.exitCode != nil
	e.failedExit = e.exited && *c.exitCode != 0
	e.sigkill = e.exited && *c.exitCode == 137 || c.signal == 9
	c.outcome = outcomeOf(a, e.ts, e.killed)

	if c.outcome == OutcomeStarting || c.outcome == OutcomeRunning {
		c.reason, c.others = liveReason(c.outcome, &e)
		c.others = append(c.others, e.xids...)
		return c
	}
	c.reason, c.others = endReason(a, c, &e)
	c.others = append(c.others, e.besides(c.reason)...)
	return c
}

// gatherEvidence reads the facts about allocation a's task that classify
// weighs, except its exit, which classify reads itself.
func gatherEvidence(a *api.Allocation, task, stderr string, u *record.Usage, timeout time.Duration, now time.Time) evidence {
	ts := a.TaskStates[task]
	e := evidence{ts: ts, term: lastEvent(ts, api.TaskTerminated), timeout: timeout}
	start, finish, started := allocSpan(a)
	if started {
		end := finish
		if end.IsZero() {
			end = now
		}
		e.runtime = end.Sub(start)
	}
	e.node = cmp.Or(a.NodeName, ShortID(a.NodeID))
	e.killed = hasEvent(ts, api.TaskKilling) || hasEvent(ts, api.TaskKilled) ||
		a.DesiredStatus == api.AllocDesiredStatusStop || a.DesiredStatus == api.AllocDesiredStatusEvict
	e.oom = oomEvidenceOf(ts, u, taskMemLimit(a, task), finish)
	e.xids = xidFindings(u, ts, stderr, e.node)
	e.cudaOOM = cudaOOM.lines(stderr, 3)
	e.timeoutText = timeoutEvidence(a, ts)
	e.pastTimeout = timeout > 0 && e.runtime >= timeout-timeout/100
	return e
}

// exitCodeOf is a Terminated event's exit code, from its details where the
// driver wrote one there.
func exitCodeOf(term *api.TaskEvent) int {
	code := term.ExitCode
	if s, ok := term.Details["exit_code"]; ok {
		if n, err := strconv.Atoi(s); err == nil {
			code = n
		}
	}
	return code
}

// liveReason is the reason for an allocation that has not ended, and a
// warning when it runs past its timeout.
func liveReason(outcome string, e *evidence) (Finding, []Finding) {
	if outcome == OutcomeStarting {
		return Finding{Kind: KindStarting, Summary: "placed on " + e.node + ", not started yet",
			Evidence: eventLines(e.ts, 3)}, nil
	}
	reason := Finding{Kind: KindRunning, Summary: "on " + e.node + " for " + Human(e.runtime)}
	if !e.pastTimeout {
		return reason, nil
	}
	return reason, []Finding{{Kind: KindTimeout,
		Summary: "running past its timeout of " + Human(e.timeout),
		Advice:  "caravan stops runs past their timeout; raise `timeout` in the experiment if it needs longer."}}
}

// endReason is why an allocation that ended did so, and the findings that
// come with that reason; it takes from e the XID or CUDA findings it makes
// the reason.
func endReason(a *api.Allocation, c classified, e *evidence) (Finding, []Finding) {
	node := e.node
	switch {
	case a.ClientStatus == api.AllocClientStatusLost || a.ClientStatus == api.AllocClientStatusUnknown:
		return Finding{Kind: KindLost, Summary: "node " + node + " stopped answering and the allocation was lost",
			Evidence: nonEmpty(a.ClientDescription, a.DesiredDescription),
			Advice:   "Nothing in the run is at fault. Rerun it (`caravan rerun " + a.JobID + "`); if it keeps happening on " + node + ", tell the cluster admins."}, nil
	case a.DesiredStatus == api.AllocDesiredStatusEvict || containsAny(a.DesiredDescription, "preempt", "evict"):
		return Finding{Kind: KindEvicted, Summary: "Nomad evicted the allocation from " + node,
			Evidence: nonEmpty(a.DesiredDescription),
			Advice:   "Higher-priority work preempted it or the node was drained. Rerun it, or give the experiment a higher priority."}, nil
	case e.oom.event != nil || (e.oom.kills > 0 && (e.failedExit || c.outcome == OutcomeFailed)):
		return e.oom.finding(), nil
	case len(e.xids) > 0 && (e.failedExit || !e.exited || c.outcome == OutcomeFailed):
		xids := e.xids
		e.xids = nil
		return xids[0], append([]Finding(nil), xids[1:]...)
	case len(e.cudaOOM) > 0 && (e.failedExit || c.outcome == OutcomeFailed):
		lines := e.cudaOOM
		e.cudaOOM = nil
		return Finding{Kind: KindCUDAOOM, Summary: "CUDA ran out of GPU memory", Evidence: lines,
			Advice: "Lower the batch size or sequence length, use mixed precision or activation checkpointing, or ask for a GPU with more memory."}, nil
	case (e.killed || exceededMaxRun(a)) && (len(e.timeoutText) > 0 || e.pastTimeout):
		return timeoutFinding(e.timeout, e.runtime, e.pastTimeout, e.timeoutText), nil
	case e.sigkill && e.oom.reached:
		f := e.oom.finding()
		f.Evidence = append([]string{"killed by SIGKILL (exit 137) with host memory at its limit: the kernel's OOM killer's way"}, f.Evidence...)
		return f, nil
	case e.killed && c.outcome == OutcomeStopped:
		return Finding{Kind: KindStopped, Summary: "stopped before it finished",
			Evidence: nonEmpty(a.DesiredDescription, killMessage(e.ts)),
			Advice:   "Someone (or caravan, after the experiment changed) stopped it; `caravan plan` shows what caravan wants running."}, nil
	case e.failedExit:
		return exitFinding(a, c, e.term), nil
	}
	return quietEndReason(a, c, e), nil
}

// exitFinding blames the program for a non-zero exit nothing else explains.
func exitFinding(a *api.Allocation, c classified, term *api.TaskEvent) Finding {
	f := Finding{Kind: KindUserError, Summary: "the program exited with code " + strconv.Itoa(*c.exitCode),
		Evidence: []string{eventLine(term)},
		Advice:   "The end of its stderr is below; `caravan logs " + a.JobID + " -stderr` shows all of it."}
	if c.signal != 0 {
		f.Summary += " (signal " + strconv.Itoa(c.signal) + ")"
	}
	return f
}

// quietEndReason is the reason for an allocation that ended without a
// failing exit: it never started, it succeeded, or Nomad recorded nothing.
func quietEndReason(a *api.Allocation, c classified, e *evidence) Finding {
	if f := sourceNotFound(a, e.ts); f != nil {
		return *f
	}
	if ev := setupFailure(e.ts); ev != nil {
		return Finding{Kind: KindSetup, Summary: "the task could not start: " + strings.ToLower(ev.Type),
			Evidence: []string{eventLine(ev)},
			Advice:   "Check the task's image or command, artifacts and driver on " + e.node + "."}
	}
	if c.outcome == OutcomeComplete {
		return Finding{Kind: KindSuccess, Summary: "finished successfully"}
	}
	return Finding{Kind: KindUnknown, Summary: "ended without an exit code Nomad recorded",
		Evidence: eventLines(e.ts, 3),
		Advice:   "`caravan show " + a.JobID + "` shows the full event history."}
}

// besides are the findings seen that did not end the run but are still
// worth a line each.
func (e *evidence) besides(reason Finding) []Finding {
	var out []Finding
	if e.oom.kills > 0 && reason.Kind != KindOOMKilled {
		out = append(out, Finding{Kind: KindOOMKilled,
			Summary: fmt.Sprintf("the kernel's OOM killer killed %d process%s of the run, which carried on (a data-loader worker, typically)", e.oom.kills, plural(e.oom.kills, "", "es")),
			Advice:  oomAdvice})
	}
	out = append(out, e.xids...)
	if len(e.cudaOOM) > 0 {
		out = append(out, Finding{Kind: KindCUDAOOM, Summary: "stderr mentions CUDA running out of memory", Evidence: e.cudaOOM})
	}
	return out
}
