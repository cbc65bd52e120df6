package gpu

import (
	"errors"
	"os"
	"runtime"
)

// ErrNVMLThreads is why ReleaseZeroPages keeps NVML's pages: threads NVML
// started could write a page between its check and its release.
var ErrNVMLThreads = errors.New("NVML has threads of its own, which could write a page while it is released")

// Threads is a census of the process's OS threads that the Go runtime did
// not start, such as those a C library starts for itself. It is exact up
// to an offset that stays put (the runtime counts idle cgo callback
// threads it has not started yet), so only the difference between two
// censuses means anything: take one before loading a library and compare
// after.
type Threads struct {
	foreign int
	ok      bool // false where /proc/self/task cannot be read
}

// CountThreads takes a census of the process's threads.
func CountThreads() Threads {
	// Read the runtime's count on both sides of the kernel's, and again if
	// it moved, so that a Go thread starting meanwhile is not taken for a
	// foreign one.
	for range 3 {
		goThreads, _ := runtime.ThreadCreateProfile(nil)
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return Threads{}
		}
		if again, _ := runtime.ThreadCreateProfile(nil); again == goThreads {
			return Threads{foreign: len(tasks) - goThreads, ok: true}
		}
	}
	return Threads{} // the runtime kept starting threads: no census
}

// Started returns how many more foreign threads run now than at census
// before, and false when either census could not be taken.
func (before Threads) Started() (int, bool) {
	now := CountThreads()
	if !before.ok || !now.ok {
		return 0, false
	}
	return max(now.foreign-before.foreign, 0), true
}
