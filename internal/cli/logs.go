package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

func init() {
	register(command{
		name:     "logs",
		synopsis: "Print (or follow) a run's task logs through the Nomad API, as the task wrote them",
		run:      runLogs,
		// Task output is printed as the task wrote it, colours and
		// progress bars included, as `nomad alloc logs` does: it is the
		// user's own program's output, and filtering it would corrupt
		// logs piped to a file. Errors on stderr are still filtered.
		rawStdout: true,
	})
}

// runLogs prints the logs of the run's latest allocation (the one a
// reschedule produced last), stdout unless -stderr. With -f it waits for a
// queued run to start, follows it (and the attempts that replace it) until
// it ends, and exits with its exit code.
func runLogs(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "logs", "RUN")
	follow := fs.Bool("f", false, "wait for the run to start, follow its log until it ends, and exit with its exit code")
	stderr := fs.Bool("stderr", false, "print stderr instead of stdout")
	task := fs.String("task", compile.TaskName, "task whose logs to print")
	alloc := fs.String("alloc", "", "allocation ID (prefix) instead of the latest")
	nf := addNomadFlags(fs)
	cl, ri, code, ok := parseRunArg(ctx, env, fs, nf, args)
	if !ok {
		return code
	}
	if ri.Job == nil {
		return recordedLogs(env, ri, *stderr, *follow)
	}
	allocs, err := cl.JobAllocations(ctx, ri.Namespace, ri.ID)
	if err != nil {
		return nomadError(env, err)
	}
	a := pickAlloc(allocs, *alloc)
	if a == nil && *alloc != "" {
		errorf(env, "run %s has no allocation %q; `caravan show %s` lists them", ri.ID, *alloc, ri.ID)
		return ExitError
	}
	opts := nomad.LogOptions{Task: *task, Stderr: *stderr, Origin: "start"}
	if *follow {
		return followRun(ctx, env, cl, ri, a, opts)
	}
	if a == nil {
		errorf(env, "run %s has not been placed yet, so there are no logs; `caravan show %s` says why it waits, and `caravan logs -f %s` waits for it", ri.ID, ri.ID, ri.ID)
		return ExitError
	}
	if msg := logsUnavailable(ri.ID, a, *task); msg != "" {
		errorf(env, "%s", msg)
		return ExitError
	}
	if err := cl.Logs(ctx, a.ID, opts, env.Stdout); err != nil {
		return nomadError(env, fmt.Errorf("logs of run %s (allocation %s, task %s): %w", ri.ID, shortID(a.ID), *task, err))
	}
	return ExitOK
}

// recordedLogs prints the end of a collected run's log from the outcome
// the controller recorded when it ended; with -f it exits with the run's
// exit code, as following it to its end would have.
func recordedLogs(env Env, ri *query.Found, stderr, follow bool) int {
	if ri.Outcome == nil {
		errorf(env, "run %s: Nomad no longer has its job (garbage-collected), and no controller recorded how it ended, so its logs are gone with its allocations; `caravan show %s` prints its record", ri.ID, ri.ID)
		return ExitError
	}
	text, stream := ri.Outcome.Stdout, "stdout"
	if stderr {
		text, stream = ri.Outcome.Stderr, "stderr"
	}
	fmt.Fprintf(env.Stderr, "Nomad no longer has run %s's job: this is the end of its %s (at most %d KiB) as recorded when it ended.\n", ri.ID, stream, record.MaxLogTail>>10)
	fmt.Fprint(env.Stdout, text)
	if follow {
		return exitCodeOf(ri.Outcome.ExitCode, ri.Outcome.State)
	}
	return ExitOK
}

// pickAlloc returns the allocation with ID prefix, or the newest one.
func pickAlloc(allocs []*api.AllocationListStub, prefix string) *api.AllocationListStub {
	if prefix != "" {
		for _, a := range allocs {
			if len(a.ID) >= len(prefix) && a.ID[:len(prefix)] == prefix {
				return a
			}
		}
		return nil
	}
	if len(allocs) == 0 {
		return nil
	}
	return slices.MaxFunc(allocs, func(a, b *api.AllocationListStub) int {
		if a.CreateIndex != b.CreateIndex {
			if a.CreateIndex < b.CreateIndex {
				return -1
			}
			return 1
		}
		return int(a.CreateTime - b.CreateTime)
	})
}

// logsUnavailable says why allocation a cannot have logs of task yet, or
// "" when it may. Nomad answers both cases with a bare 404 that would read
// as a missing allocation.
func logsUnavailable(runID string, a *api.AllocationListStub, task string) string {
	if len(a.TaskStates) == 0 {
		return "" // the listing did not say; let Nomad answer
	}
	ts, ok := a.TaskStates[task]
	if !ok {
		return fmt.Sprintf("run %s has no task %q (its tasks: %s); pass -task with one of them", runID, task, strings.Join(slices.Sorted(maps.Keys(a.TaskStates)), ", "))
	}
	if ts.StartedAt.IsZero() && ts.State == "pending" {
		return fmt.Sprintf("run %s is starting: task %q of allocation %s has not started yet, so there are no logs; try again in a moment", runID, task, shortID(a.ID))
	}
	return ""
}
