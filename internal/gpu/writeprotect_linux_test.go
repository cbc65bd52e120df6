//go:build cgo && linux

package gpu

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caravan-ml/caravan/internal/gpu/cthread"
)

// needWriteProtect skips where this kernel or process cannot write-protect
// anonymous memory (the agent then falls back on the thread census).
func needWriteProtect(t *testing.T) {
	t.Helper()
	mem := anonPages(t, 1)
	mem[0] = 0
	if err := probeWriteProtect(t, mem); err != nil {
		t.Skipf("no write protection here: %v", err)
	}
}

// probeWriteProtect protects mem and lifts the protection at once. It
// returns the errNoWriteProtect error where that cannot be done, and fails
// the test on any other error.
func probeWriteProtect(t *testing.T, mem []byte) error {
	t.Helper()
	w, err := writeProtect(mem)
	if errors.Is(err, errNoWriteProtect) {
		return err
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := w.end(); err != nil {
		t.Fatal(err)
	}
	return nil
}

func anonPages(t *testing.T, n int) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, n*os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

// TestDropZeroPagesProtectedKeepsConcurrentWrites is the case the thread
// census exists for: a thread that is not Go's writes into a page after it
// was found all zero and before it is released. Under write protection the
// write waits for the release, then lands on the fresh page.
func TestDropZeroPagesProtectedKeepsConcurrentWrites(t *testing.T) {
	needWriteProtect(t)
	page := os.Getpagesize()
	mem := anonPages(t, 8)
	for p := range 6 {
		mem[p*page] = 0 // resident, all zero
	}
	mem[6*page+9] = 6 // data; page 7 is never touched before the drop

	racer, err := cthread.StartWriter(&mem[2*page+100], 42) // a zero page
	if err != nil {
		t.Fatal(err)
	}
	defer racer.Stop()
	late, err := cthread.StartWriter(&mem[7*page+5], 7) // a page not resident at the check
	if err != nil {
		t.Fatal(err)
	}
	defer late.Stop()

	var waited, lateDone bool
	released, err := dropZeroPagesProtected(mem, func() {
		racer.Write()
		late.Write()
		// The write to the protected page waits; the one to the page
		// that was not resident does not.
		waited = !racer.Done(200 * time.Millisecond)
		lateDone = late.Done(5 * time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !waited {
		t.Error("the write to a protected page completed during the check: it was not write-protected")
	}
	if !lateDone {
		t.Error("the write to a page that was not resident waited: it must not be protected")
	}
	if waited && !racer.Done(5*time.Second) {
		t.Fatal("the write to the protected page did not complete after the release")
	}
	if released != 6*page {
		t.Errorf("released %d bytes, want the 6 zero pages (%d)", released, 6*page)
	}
	for _, c := range []struct {
		at   int
		want byte
	}{{2*page + 100, 42}, {7*page + 5, 7}, {6*page + 9, 6}} {
		if mem[c.at] != c.want {
			t.Errorf("page %d, byte %d: %d, want %d: a write was lost", c.at/page, c.at%page, mem[c.at], c.want)
		}
	}
	// Pages 2 (written after the release), 6 (data) and 7 (written) stay.
	if res := residentPages(t, mem); !slices.Equal(res, []int{2, 6, 7}) {
		t.Errorf("resident pages after the drop: %v, want [2 6 7]", res)
	}
	// The protection is gone: writes from this thread do not wait.
	for p := range 8 {
		mem[p*page+1] = 1
	}
}

func TestDropZeroPagesProtectedMatchesTheUnprotectedDrop(t *testing.T) {
	needWriteProtect(t)
	page := os.Getpagesize()
	for _, touched := range [][]int{{0, 1, 2, 3}, {1, 3}, nil} {
		mem := anonPages(t, 4)
		for _, p := range touched {
			mem[p*page] = 0
		}
		mem[3*page+1] = 3
		got, err := dropZeroPagesProtected(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, p := range touched {
			if p != 3 {
				want += page
			}
		}
		if got != want {
			t.Errorf("touched %v: released %d bytes, want %d", touched, got, want)
		}
		if res := residentPages(t, mem); !slices.Equal(res, []int{3}) {
			t.Errorf("touched %v: resident pages %v, want [3]", touched, res)
		}
	}
}
