//go:build unix

package cli

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system, all threads, GC included) this
// process has used: a benchmark figure that a busy shared machine inflates
// far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
