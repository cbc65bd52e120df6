package nomadtest

import (
	"context"
	"time"
)

// ClientScript says what Drive's pretend client does with an allocation.
type ClientScript struct {
	// Stdout and Stderr are appended to every task's logs when the
	// allocation starts.
	Stdout, Stderr string
	// End says how a running allocation of jobID ends, or keep=true to
	// leave it running. Nil completes every allocation with exit 0.
	End func(jobID string) (exit TaskExit, keep bool)
}

// Drive plays a Nomad client until ctx is done: every tick it starts the
// pending allocations that should run, writing the script's logs, and ends
// the ones started on an earlier tick as the script says. An allocation
// takes at least two ticks from pending to its end, as on a real client,
// so a watcher sees it running.
//
// Unlike the other helpers Drive runs on a timer, so results depend on
// timing: it is for rehearsing end-to-end suites written for a real
// cluster, not for unit tests, which should step the fake themselves.
func (s *Server) Drive(ctx context.Context, every time.Duration, sc ClientScript) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.driveOnce(sc)
		}
	}
}

// driveOnce is one tick of Drive, under the lock so that a job purged by a
// request cannot vanish between looking at an allocation and moving it.
func (s *Server) driveOnce(sc ClientScript) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.allocOrder {
		a := s.allocs[id]
		if a.DesiredStatus != "run" {
			continue
		}
		switch a.ClientStatus {
		case "pending":
			s.startAlloc(a)
			for _, t := range a.Tasks {
				a.appendLog(t.Name, false, sc.Stdout)
				a.appendLog(t.Name, true, sc.Stderr)
			}
			s.touch()
		case "running":
			var exit TaskExit
			if sc.End != nil {
				var keep bool
				if exit, keep = sc.End(a.JobID); keep {
					continue
				}
			}
			s.finish(a, exit)
		}
	}
}
