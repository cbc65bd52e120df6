//go:build cgo && linux

package gpu

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/caravan-ml/caravan/internal/gpu/cthread"
)

func TestLibraryBSS(t *testing.T) {
	// Every cgo binary on glibc has libc loaded, and its .bss spans whole pages.
	b := libraryBSS("libc.so.6")
	page := os.Getpagesize()
	if len(b) == 0 || len(b)%page != 0 {
		t.Fatalf("libc's .bss: %d bytes, want a positive number of whole pages", len(b))
	}
	if b := libraryBSS("libcaravan-no-such-library.so"); b != nil {
		t.Errorf("a library that is not loaded: %d bytes, want nil", len(b))
	}
}

// TestReleaseZeroPagesRealNVML runs the release against NVIDIA's real
// libnvidia-ml. CARAVAN_NVML_LIB names the library file (.ci/run fetches
// Debian's libnvidia-ml1 and sets it); otherwise the test uses the one on
// the library path and skips where there is none. Without a driver, Init
// fails the way it does on a node whose driver is not loaded, and the
// static tables it zeroed are what the release gives back.
func TestReleaseZeroPagesRealNVML(t *testing.T) {
	path := os.Getenv("CARAVAN_NVML_LIB")
	var lib nvml.Interface
	if path != "" {
		lib = nvml.New(nvml.WithLibraryPath(path))
	} else {
		lib = nvml.New()
	}
	threads := CountThreads()
	first := lib.Init()
	if first == nvml.ERROR_LIBRARY_NOT_FOUND {
		if path != "" {
			t.Fatalf("CARAVAN_NVML_LIB=%s cannot be loaded", path)
		}
		t.Skip("libnvidia-ml.so.1 is not on the library path; set CARAVAN_NVML_LIB to a copy (.ci/run fetches one)")
	}
	t.Logf("nvmlInit: %s", nvml.ErrorString(first))

	bss := libraryBSS(nvmlLibrary)
	if len(bss) == 0 {
		t.Fatal("libnvidia-ml is loaded but its .bss was not found")
	}
	before := len(residentPages(t, bss))

	// Without write protection, a thread that is not Go's, as NVML could
	// start, stops the release.
	th, err := cthread.Start()
	if err != nil {
		t.Fatal(err)
	}
	writeProtectRelease = false
	held, err := ReleaseZeroPages(threads)
	writeProtectRelease = true
	if !errors.Is(err, ErrNVMLThreads) || held != 0 {
		t.Errorf("census path, a C thread running: released %d bytes (%v), want 0 and ErrNVMLThreads", held, err)
	}
	if n := len(residentPages(t, bss)); n != before {
		t.Errorf("census path, a C thread running: resident pages %d → %d, want no change", before, n)
	}

	// With it, the thread does not matter; without it, the release waits
	// for the thread to end.
	werr := probeWriteProtect(t, bss[:os.Getpagesize()])
	protect := werr == nil
	if !protect {
		t.Logf("no write protection here (%v): the release needs the thread gone", werr)
		if err := th.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	released, err := ReleaseZeroPages(threads)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if protect {
		if err := th.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	after := len(residentPages(t, bss))
	page := os.Getpagesize()
	t.Logf(".bss %d KiB: %d KiB resident before, %d KiB released in %v (write-protected: %v), %d KiB resident after", len(bss)>>10, before*page>>10, released>>10, took, protect, after*page>>10)
	if released == 0 || after != before-released/page {
		t.Errorf("released %d bytes; resident pages %d → %d", released, before, after)
	}
	if again, err := ReleaseZeroPages(threads); err != nil || again != 0 {
		t.Errorf("a second release gave %d bytes (%v), want 0: nothing was written in between", again, err)
	}

	// NVML still behaves as before the release.
	if first == nvml.SUCCESS {
		if _, ret := lib.DeviceGetCount(); ret != nvml.SUCCESS {
			t.Errorf("DeviceGetCount after the release: %s", nvml.ErrorString(ret))
		}
		lib.Shutdown()
		return
	}
	lib.Shutdown()
	if ret := lib.Init(); ret != first {
		t.Errorf("Init after the release: %s, want %s as before", nvml.ErrorString(ret), nvml.ErrorString(first))
	}
	lib.Shutdown()
}
