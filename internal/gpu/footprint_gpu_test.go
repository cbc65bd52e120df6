//go:build gpu && cgo && linux

// The footprint tests run only on a machine with an NVIDIA driver, built
// with -tags gpu (never in `make test`):
//
//	CGO_ENABLED=1 go test -c -tags gpu -o bin/gpu-footprint.test ./internal/gpu
//	bin/gpu-footprint.test -test.v -test.run TestRealNVMLFootprint
//	bin/gpu-footprint.test -test.v -test.run TestRealOpenFootprint
//
// Run each in its own process (as gpu-check.sh does): a library once
// mapped stays mapped, so the second test in one process would see the
// first one's libcuda.
//
// Why: on an H200 (driver 580) the agent had libcuda.so mapped 0.3 s after
// start, before any scrape, and about 16 MB more anonymous memory than
// without a GPU, which breaks its 30 MB budget. Driver 535's NVML, run
// here without a GPU, zeroes a 12 MB .bss in Init and maps no libcuda, so
// most of the 16 MB is likely NVML's own tables; these tests name the call
// that loads libcuda and show what gpu.ReleaseZeroPages gets back after a
// successful Init and how much of it the reads bring back.

package gpu_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/testutil/cputime"
)

// settle is how long each step waits before measuring, so that a library
// the driver loads from a thread of its own is charged to the step that
// started it.
const settle = 300 * time.Millisecond

// footprint is the process's memory and mappings at one moment.
type footprint struct {
	anonKB, fileKB, threads int
	goHeapKB                uint64
	libs                    map[string]bool // mapped files under the NVIDIA/CUDA names
}

func measure(t *testing.T) footprint {
	t.Helper()
	f := footprint{libs: map[string]bool{}}
	st, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("reading /proc/self/status: %v", err)
	}
	defer st.Close()
	sc := bufio.NewScanner(st)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.Atoi(fields[0])
		switch k {
		case "RssAnon":
			f.anonKB = n
		case "RssFile":
			f.fileKB = n
		case "Threads":
			f.threads = n
		}
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatalf("reading /proc/self/maps: %v", err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		path := fields[5]
		base := path[strings.LastIndex(path, "/")+1:]
		if strings.Contains(base, "cuda") || strings.Contains(base, "nvidia") || strings.Contains(base, "nvrtc") {
			f.libs[path] = true
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.goHeapKB = ms.HeapInuse / 1024
	return f
}

func (f footprint) hasLibcuda() bool {
	for p := range f.libs {
		if strings.Contains(p[strings.LastIndex(p, "/")+1:], "libcuda") {
			return true
		}
	}
	return false
}

// tracker logs each step's footprint against the previous one and
// remembers the first step after which libcuda was mapped.
type tracker struct {
	t           *testing.T
	start, prev footprint
	cudaStep    string
	threads     gpu.Threads // census before NVML was loaded
	// held keeps the lines of the steps before NVML is known to work, so
	// that a machine without it skips with one line.
	held []string
	hold bool
}

func newTracker(t *testing.T) *tracker {
	f := measure(t)
	tr := &tracker{t: t, start: f, prev: f, hold: true, threads: gpu.CountThreads()}
	tr.logf("%-34s anon %6d kB  file %6d kB  go heap %5d kB  threads %3d  libcuda %-3v  (baseline)",
		"start", f.anonKB, f.fileKB, f.goHeapKB, f.threads, yes(f.hasLibcuda()))
	return tr
}

func (tr *tracker) logf(format string, args ...any) {
	tr.t.Helper()
	if tr.hold {
		tr.held = append(tr.held, fmt.Sprintf(format, args...))
		return
	}
	tr.t.Logf(format, args...)
}

// release prints the held lines: NVML works, the steps so far count.
func (tr *tracker) release() {
	tr.t.Helper()
	tr.hold = false
	for _, l := range tr.held {
		tr.t.Log(l)
	}
	tr.held = nil
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// step runs fn, waits settle, and logs the footprint and what changed, with
// the wall and CPU time fn took: the CPU figures say what each NVML call
// costs a scrape on real hardware, where the mock says nothing.
func (tr *tracker) step(name string, fn func()) {
	tr.t.Helper()
	began, cpu0 := time.Now(), cputime.Process()
	fn()
	took, cpu := time.Since(began), cputime.Process()-cpu0
	time.Sleep(settle)
	f := measure(tr.t)
	var added []string
	for p := range f.libs {
		if !tr.prev.libs[p] {
			added = append(added, p)
		}
	}
	slices.Sort(added)
	note := ""
	if len(added) > 0 {
		note = "  newly mapped: " + strings.Join(added, ", ")
	}
	foreign, _ := tr.threads.Started()
	tr.logf("%-34s anon %6d kB (%+6d)  file %6d kB (%+6d)  go heap %5d kB  threads %3d (not Go's %d)  libcuda %-3v  took %v (cpu %v)%s",
		name, f.anonKB, f.anonKB-tr.prev.anonKB, f.fileKB, f.fileKB-tr.prev.fileKB, f.goHeapKB, f.threads, foreign,
		yes(f.hasLibcuda()), took.Round(time.Millisecond), cpu.Round(100*time.Microsecond), note)
	if tr.cudaStep == "" && f.hasLibcuda() {
		tr.cudaStep = name
	}
	tr.prev = f
}

func (tr *tracker) summary() {
	f := tr.prev
	tr.t.Logf("total: anon %+d kB, file %+d kB since the start", f.anonKB-tr.start.anonKB, f.fileKB-tr.start.fileKB)
	switch {
	case tr.start.hasLibcuda():
		tr.t.Logf("libcuda was mapped before the first step")
	case tr.cudaStep != "":
		tr.t.Logf("libcuda first mapped by step: %s", tr.cudaStep)
	default:
		tr.t.Logf("libcuda never mapped")
	}
}

// checkRelease fails the test on an error of the release, except the one
// that says NVML has threads of its own: that is a finding, logged.
func checkRelease(t *testing.T, err error) {
	t.Helper()
	switch {
	case errors.Is(err, gpu.ErrNVMLThreads):
		t.Logf("ReleaseZeroPages kept the pages: %v", err)
	case err != nil:
		t.Errorf("ReleaseZeroPages: %v", err)
	}
}

// perDevice runs fn on every handle and fails the test on a required call
// that does not succeed; optional calls only log.
func perDevice(t *testing.T, hs []nvml.Device, what string, required bool, fn func(nvml.Device) nvml.Return) {
	t.Helper()
	for i, h := range hs {
		if ret := fn(h); ret != nvml.SUCCESS {
			if required {
				t.Errorf("GPU %d: %s: %s", i, what, nvml.ErrorString(ret))
			} else {
				t.Logf("GPU %d: %s: %s (optional; left absent)", i, what, nvml.ErrorString(ret))
			}
		}
	}
}

// TestRealNVMLFootprint opens the real NVML step by step, making the calls
// internal/gpu makes in the order it makes them (OpenLib, registerXIDs,
// Read, PollXIDs), and logs after each step whether libcuda is mapped and
// how resident memory moved.
func TestRealNVMLFootprint(t *testing.T) {
	tr := newTracker(t)
	var lib nvml.Interface
	tr.step("nvml.New (no dlopen yet)", func() { lib = nvml.New() })
	var ret nvml.Return
	tr.step("Init (dlopen libnvidia-ml)", func() { ret = lib.Init() })
	if ret != nvml.SUCCESS {
		t.Skipf("NVML unavailable: Init: %s", nvml.ErrorString(ret))
	}
	tr.release()
	defer lib.Shutdown()
	// From here on, a step's anonymous growth includes the pages of NVML's
	// .bss it writes again: what the release cannot keep away.
	var released int
	var err error
	tr.step("gpu.ReleaseZeroPages after Init", func() { released, err = gpu.ReleaseZeroPages(tr.threads) })
	checkRelease(t, err)
	t.Logf("ReleaseZeroPages gave back %d KiB after a successful Init", released>>10)

	var count int
	tr.step("DeviceGetCount", func() { count, ret = lib.DeviceGetCount() })
	if ret != nvml.SUCCESS {
		t.Fatalf("DeviceGetCount: %s", nvml.ErrorString(ret))
	}
	t.Logf("%d GPU(s)", count)
	hs := make([]nvml.Device, 0, count)
	tr.step("DeviceGetHandleByIndex (all)", func() {
		for i := range count {
			h, ret := lib.DeviceGetHandleByIndex(i)
			if ret != nvml.SUCCESS {
				t.Errorf("DeviceGetHandleByIndex(%d): %s", i, nvml.ErrorString(ret))
				continue
			}
			hs = append(hs, h)
		}
	})
	tr.step("GetUUID + GetName (all)", func() {
		for i, h := range hs {
			uuid, ret := h.GetUUID()
			if ret != nvml.SUCCESS {
				t.Errorf("GPU %d: GetUUID: %s", i, nvml.ErrorString(ret))
			}
			name, _ := h.GetName()
			t.Logf("GPU %d: %s %s", i, uuid, name)
		}
	})

	var set nvml.EventSet
	tr.step("EventSetCreate", func() { set, ret = lib.EventSetCreate() })
	if ret != nvml.SUCCESS || set == nil {
		t.Logf("EventSetCreate: %s (the agent then reports no XIDs)", nvml.ErrorString(ret))
	} else {
		defer set.Free()
		tr.step("RegisterEvents XidCriticalError", func() {
			perDevice(t, hs, "RegisterEvents", false, func(h nvml.Device) nvml.Return {
				return h.RegisterEvents(nvml.EventTypeXidCriticalError, set)
			})
		})
	}

	// One full read of every device, split into the groups Read makes, in
	// its order.
	tr.step("GetUtilizationRates", func() {
		perDevice(t, hs, "GetUtilizationRates", true, func(h nvml.Device) nvml.Return { _, r := h.GetUtilizationRates(); return r })
	})
	tr.step("GetMemoryInfo", func() {
		perDevice(t, hs, "GetMemoryInfo", true, func(h nvml.Device) nvml.Return { _, r := h.GetMemoryInfo(); return r })
	})
	tr.step("GetTemperature", func() {
		perDevice(t, hs, "GetTemperature", false, func(h nvml.Device) nvml.Return { _, r := h.GetTemperature(nvml.TEMPERATURE_GPU); return r })
	})
	tr.step("GetPowerUsage + EnforcedPowerLimit", func() {
		perDevice(t, hs, "GetPowerUsage", false, func(h nvml.Device) nvml.Return { _, r := h.GetPowerUsage(); return r })
		perDevice(t, hs, "GetEnforcedPowerLimit", false, func(h nvml.Device) nvml.Return { _, r := h.GetEnforcedPowerLimit(); return r })
	})
	tr.step("GetClockInfo SM", func() {
		perDevice(t, hs, "GetClockInfo", false, func(h nvml.Device) nvml.Return { _, r := h.GetClockInfo(nvml.CLOCK_SM); return r })
	})
	tr.step("GetTotalEccErrors", func() {
		perDevice(t, hs, "GetTotalEccErrors corrected", false, func(h nvml.Device) nvml.Return {
			_, r := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC)
			return r
		})
		perDevice(t, hs, "GetTotalEccErrors uncorrected", false, func(h nvml.Device) nvml.Return {
			_, r := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
			return r
		})
	})
	tr.step("GetPcieThroughput TX + RX", func() {
		perDevice(t, hs, "GetPcieThroughput TX", false, func(h nvml.Device) nvml.Return { _, r := h.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES); return r })
		perDevice(t, hs, "GetPcieThroughput RX", false, func(h nvml.Device) nvml.Return { _, r := h.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES); return r })
	})
	tr.step("GetComputeRunningProcesses", func() {
		for i, h := range hs {
			procs, ret := h.GetComputeRunningProcesses()
			if ret != nvml.SUCCESS && ret != nvml.ERROR_NOT_SUPPORTED {
				t.Errorf("GPU %d: GetComputeRunningProcesses: %s", i, nvml.ErrorString(ret))
			}
			t.Logf("GPU %d: %d compute process(es)", i, len(procs))
		}
	})
	tr.step("GetProcessUtilization (last 10 s)", func() {
		since := uint64(time.Now().Add(-10 * time.Second).UnixMicro())
		perDevice(t, hs, "GetProcessUtilization", false, func(h nvml.Device) nvml.Return { _, r := h.GetProcessUtilization(since); return r })
	})
	if set != nil {
		tr.step("EventSet.Wait(0) (PollXIDs)", func() {
			for range 64 {
				if _, ret := set.Wait(0); ret != nvml.SUCCESS {
					break
				}
			}
		})
	}
	tr.step("a second full read (steady state)", func() {
		since := uint64(time.Now().Add(-10 * time.Second).UnixMicro())
		for _, h := range hs {
			h.GetUtilizationRates()
			h.GetMemoryInfo()
			h.GetTemperature(nvml.TEMPERATURE_GPU)
			h.GetPowerUsage()
			h.GetEnforcedPowerLimit()
			h.GetClockInfo(nvml.CLOCK_SM)
			h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC)
			h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
			h.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES)
			h.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES)
			h.GetComputeRunningProcesses()
			h.GetProcessUtilization(since)
		}
	})
	tr.summary()
}

// TestRealOpenFootprint goes through the package itself, as the agent
// does at start: gpu.Open, gpu.NewReader, then reads. It confirms the
// step-by-step test's total matches the real path.
func TestRealOpenFootprint(t *testing.T) {
	tr := newTracker(t)
	var src gpu.Source
	var err error
	tr.step("gpu.Open", func() { src, err = gpu.Open() })
	if err != nil {
		t.Skipf("%v", err)
	}
	tr.release()
	var released int
	tr.step("gpu.ReleaseZeroPages", func() { released, err = gpu.ReleaseZeroPages(tr.threads) })
	checkRelease(t, err)
	t.Logf("ReleaseZeroPages gave back %d KiB", released>>10)
	r := gpu.NewReader(src, time.Second)
	defer r.Close()
	t.Logf("%d GPU(s)", len(r.Devices()))
	for i := range 3 {
		tr.step(fmt.Sprintf("Reader.ReadAll + PollXIDs #%d", i+1), func() {
			for _, res := range r.ReadAll(context.Background()) {
				if res.Err != nil {
					t.Errorf("GPU %d: %v", res.Index, res.Err)
				}
			}
			r.PollXIDs()
		})
	}
	tr.summary()
}
