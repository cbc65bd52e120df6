package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// logsPoll is how often logs -f looks at the run while it waits for
// placement or follows it. Nomad's followed log stream does not end when
// the task does, so the run's state, not the stream, says when to stop.
var logsPoll = time.Second

// followRun is logs -f: it waits until the run has an allocation whose
// task started, follows its log until the allocation ends, then follows
// the attempt that replaces it, if any, and exits with the exit code of
// the run's last attempt (1 when it ended without one: lost, stopped
// before it started).
func followRun(ctx context.Context, env Env, cl *nomad.Client, ri *query.Found, a *api.AllocationListStub, opts nomad.LogOptions) int {
	told := false
	for {
		if a == nil || !taskStarted(a, opts.Task) {
			var code int
			var ok bool
			if a, code, ok = waitStarted(ctx, env, cl, ri, opts.Task, &told); !ok {
				return code
			}
		}
		var ended *api.Allocation
		var err error
		if terminal(a.ClientStatus) && !taskStarted(a, opts.Task) {
			ended, err = cl.Allocation(ctx, ri.Namespace, a.ID) // it never ran: no log to follow
		} else {
			ended, err = followAlloc(ctx, env.Stdout, cl, ri, a.ID, opts)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ExitOK // interrupted: as `tail -f`
			}
			return nomadError(env, fmt.Errorf("logs of run %s (allocation %s, task %s): %w", ri.ID, shortID(a.ID), opts.Task, err))
		}
		code := exitCodeOf(taskExit(ended, opts.Task), record.State(ended.ClientStatus))
		next, ok := replacement(ctx, cl, ri, ended)
		if !ok {
			return code
		}
		fmt.Fprintf(env.Stderr, "caravan: attempt in allocation %s ended (exit %d); following the attempt that replaces it.\n", shortID(ended.ID), code)
		a = next
	}
}

// waitStarted polls until the run has an allocation whose task started.
// ok=false when the run ended before (stopped while queued) or ctx ended,
// with the exit code to return.
func waitStarted(ctx context.Context, env Env, cl *nomad.Client, ri *query.Found, task string, told *bool) (*api.AllocationListStub, int, bool) {
	for {
		allocs, err := cl.JobAllocations(ctx, ri.Namespace, ri.ID)
		if err != nil {
			return nil, nomadError(env, err), false
		}
		a := pickAlloc(allocs, "")
		if a != nil && (taskStarted(a, task) || terminal(a.ClientStatus)) {
			return a, ExitOK, true
		}
		job, err := cl.Job(ctx, ri.Namespace, ri.ID)
		switch {
		case errors.Is(err, nomad.ErrNotFound):
			errorf(env, "run %s was purged from Nomad before it started", ri.ID)
			return nil, ExitError, false
		case err != nil:
			return nil, nomadError(env, err), false
		case a == nil && (deref(job.Status) == "dead" || (job.Stop != nil && *job.Stop)):
			errorf(env, "run %s was stopped before it started, so it has no logs", ri.ID)
			return nil, ExitError, false
		}
		if !*told {
			what := "is queued: waiting for Nomad to place it"
			if a != nil {
				what = "is starting"
			}
			fmt.Fprintf(env.Stderr, "caravan: run %s %s (`caravan queue` says why; Ctrl-C stops waiting).\n", ri.ID, what)
			*told = true
		}
		if !sleepCtx(ctx, logsPoll) {
			return nil, ExitOK, false // interrupted while waiting
		}
	}
}

// followAlloc streams one allocation's log until the allocation ends, then
// prints what the stream had not delivered yet, and returns the ended
// allocation.
func followAlloc(ctx context.Context, w io.Writer, cl *nomad.Client, ri *query.Found, allocID string, opts nomad.LogOptions) (*api.Allocation, error) {
	cw := &countingWriter{w: w}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	streamed := make(chan error, 1)
	go func() {
		o := opts
		o.Follow = true
		streamed <- cl.Logs(sctx, allocID, o, cw)
	}()
	var ended *api.Allocation
	for ended == nil {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-streamed:
			if err != nil {
				return nil, err
			}
			streamed = nil // the stream ended by itself; wait for the allocation to say so
		case <-time.After(logsPoll):
		}
		a, err := cl.Allocation(ctx, ri.Namespace, allocID)
		if err != nil {
			return nil, err
		}
		if terminal(a.ClientStatus) {
			ended = a
		}
	}
	stop()
	if streamed != nil {
		<-streamed
	}
	// The rest of the log, from where the stream stopped.
	rest := opts
	rest.Offset = cw.n.Load()
	if err := cl.Logs(ctx, allocID, rest, w); err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return nil, err
	}
	return ended, nil
}

// replacement is the allocation that replaces an ended one (a reschedule),
// waiting while Nomad has decided to reschedule it but not placed it yet;
// ok=false when the run ended.
func replacement(ctx context.Context, cl *nomad.Client, ri *query.Found, ended *api.Allocation) (*api.AllocationListStub, bool) {
	for {
		allocs, err := cl.JobAllocations(ctx, ri.Namespace, ri.ID)
		if err != nil {
			return nil, false
		}
		var self *api.AllocationListStub
		for _, a := range allocs {
			if a.ID == ended.ID {
				self = a
			}
		}
		if self == nil || (self.NextAllocation == "" && self.FollowupEvalID == "") {
			return nil, false
		}
		for _, a := range allocs {
			if a.ID == self.NextAllocation {
				return a, true
			}
		}
		if !sleepCtx(ctx, logsPoll) {
			return nil, false
		}
	}
}

// exitCodeOf is the exit code logs -f returns for a run that ended with
// code (nil: without one) in state.
func exitCodeOf(code *int, state record.State) int {
	switch {
	case code != nil && *code >= 0 && *code <= 255:
		return *code
	case state == record.StateComplete:
		return ExitOK
	}
	return ExitError
}

// taskExit is the task's last exit code in a, nil when it never exited.
func taskExit(a *api.Allocation, task string) *int {
	ts := a.TaskStates[task]
	if ts == nil {
		return nil
	}
	if code, ok := exitCode(ts); ok {
		return &code
	}
	return nil
}

func taskStarted(a *api.AllocationListStub, task string) bool {
	ts := a.TaskStates[task]
	return ts != nil && !ts.StartedAt.IsZero()
}

func terminal(clientStatus string) bool {
	switch clientStatus {
	case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost, "unknown":
		return true
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
