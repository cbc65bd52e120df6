//go:build cgo && linux

package gpu

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/gpu/cthread"
)

// wantStarted checks that before.Started() settles on want: a thread that
// has just ended stays listed by the kernel for a moment after its join.
func wantStarted(t *testing.T, before Threads, want int, what string) {
	t.Helper()
	var n int
	var ok bool
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if n, ok = before.Started(); ok && n == want {
			return
		}
	}
	t.Errorf("%s: Started() = %d, %v; want %d, true", what, n, ok, want)
}

func TestThreadsStarted(t *testing.T) {
	t.Run("threads the Go runtime starts are not foreign", func(t *testing.T) {
		before := CountThreads()
		// Goroutines locked to their threads while others wait force the
		// runtime to start more threads of its own.
		var started, done sync.WaitGroup
		release := make(chan struct{})
		for range 8 {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread() // keep the thread for the runtime to reuse
				started.Done()
				<-release
			}()
		}
		started.Wait()
		wantStarted(t, before, 0, "with 8 locked goroutines")
		close(release)
		done.Wait()
	})
	t.Run("threads C starts are", func(t *testing.T) {
		before := CountThreads()
		var ths []*cthread.Thread
		for range 2 {
			th, err := cthread.Start()
			if err != nil {
				t.Fatal(err)
			}
			ths = append(ths, th)
		}
		wantStarted(t, before, 2, "with 2 C threads")
		for _, th := range ths {
			if err := th.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		wantStarted(t, before, 0, "after the C threads ended")
	})
	t.Run("an unknown census is not a safe one", func(t *testing.T) {
		if _, ok := (Threads{}).Started(); ok {
			t.Error("Started() on a census that was never taken: ok, want not ok")
		}
	})
}
