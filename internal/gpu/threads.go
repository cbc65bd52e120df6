package gpu

import (
	"errors"
	"os"
	"runtime"
	"time"
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

// CountThreads takes a census of the process's threads. It takes about a
// millisecond: it waits until two readings agree.
func CountThreads() Threads {
	// The runtime counts a thread it is starting a moment before the kernel
	// lists it; a reading taken in that moment is off by one, and the next
	// one, a millisecond later, is not.
	prev, ok := readThreads()
	for range 5 {
		time.Sleep(time.Millisecond)
		now, nowOK := readThreads()
		if ok && nowOK && now == prev {
			return Threads{foreign: now, ok: true}
		}
		prev, ok = now, nowOK
	}
	return Threads{} // the runtime kept starting threads: no census
}

// readThreads returns how many of the kernel's threads of this process the
// Go runtime did not start, and false when the runtime's own count moved
// while the kernel's was read.
func readThreads() (int, bool) {
	goThreads, _ := runtime.ThreadCreateProfile(nil)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, false
	}
	again, _ := runtime.ThreadCreateProfile(nil)
	return len(tasks) - goThreads, again == goThreads
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
