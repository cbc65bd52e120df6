//go:build cgo && linux

// Package nvmlmock builds deterministic NVML mock servers (go-nvml's
// dgxh100 mock with every reading the agent makes filled in) for the
// tests and benchmarks of the gpu and agent packages.
package nvmlmock

import (
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Options shape the mock node.
type Options struct {
	GPUs        int    // default 8
	ProcsPerGPU int    // compute processes per GPU
	PIDBase     uint32 // PID of the first process (default 1000); GPU i, process j gets PIDBase+i*ProcsPerGPU+j
}

// Mock is an NVML mock server with an injectable XID event queue.
type Mock struct {
	*server.Server
	mu     sync.Mutex
	events []nvml.EventData
}

// UUID is the deterministic UUID of GPU i.
func UUID(i int) string { return fmt.Sprintf("GPU-00000000-0000-4000-8000-%012d", i) }

// New returns a mock whose GPU i reads: utilisation (10i+5)%, memory
// controller (5i+2)%, 4 GiB·(i+1) used, 40+i °C, 300+10i W of a 700 W
// limit, 1980 MHz, i corrected ECC errors, PCIe 1000 KB/s out and 2000 in.
// Each process uses 1 GiB·(j+1) and has an SM sample of (j+1)·3 %.
func New(o Options) *Mock {
	if o.GPUs == 0 {
		o.GPUs = 8
	}
	if o.PIDBase == 0 {
		o.PIDBase = 1000
	}
	m := &Mock{Server: dgxh100.NewWithGPUs(gpus.Multiple(o.GPUs, gpus.H100_SXM5_80GB)...)}
	for i, dev := range m.Devices {
		d := dev.(*server.Device)
		d.UUID = UUID(i)
		d.MemoryInfo.Used = uint64(i+1) << 32
		d.MemoryInfo.Free = d.MemoryInfo.Total - d.MemoryInfo.Used
		i := i
		d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: uint32(10*i + 5), Memory: uint32(5*i + 2)}, nvml.SUCCESS
		}
		d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return uint32(40 + i), nvml.SUCCESS }
		d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return uint32(300+10*i) * 1000, nvml.SUCCESS }
		d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) { return 700_000, nvml.SUCCESS }
		d.GetClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 1980, nvml.SUCCESS }
		d.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, _ nvml.EccCounterType) (uint64, nvml.Return) {
			if t == nvml.MEMORY_ERROR_TYPE_CORRECTED {
				return uint64(i), nvml.SUCCESS
			}
			return 0, nvml.SUCCESS
		}
		d.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
			if c == nvml.PCIE_UTIL_TX_BYTES {
				return 1000, nvml.SUCCESS
			}
			return 2000, nvml.SUCCESS
		}
		procs := make([]nvml.ProcessInfo, o.ProcsPerGPU)
		samples := make([]nvml.ProcessUtilizationSample, o.ProcsPerGPU)
		for j := range procs {
			pid := o.PIDBase + uint32(i*o.ProcsPerGPU+j)
			procs[j] = nvml.ProcessInfo{Pid: pid, UsedGpuMemory: uint64(j+1) << 30}
			samples[j] = nvml.ProcessUtilizationSample{Pid: pid, TimeStamp: 1, SmUtil: uint32(j+1) * 3}
		}
		d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return procs, nvml.SUCCESS }
		d.GetProcessUtilizationFunc = func(uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
			if len(samples) == 0 {
				return nil, nvml.ERROR_NOT_FOUND
			}
			return samples, nvml.SUCCESS
		}
		d.RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
	}
	m.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return &mock.EventSet{WaitFunc: m.wait, FreeFunc: func() nvml.Return { return nvml.SUCCESS }}, nvml.SUCCESS
	}
	return m
}

// Device returns GPU i's mock device, to override its funcs in a test.
func (m *Mock) Device(i int) *server.Device { return m.Devices[i].(*server.Device) }

// InjectXID queues an XID critical error on GPU i.
func (m *Mock) InjectXID(i int, code uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, nvml.EventData{Device: m.Devices[i], EventType: nvml.EventTypeXidCriticalError, EventData: code})
}

func (m *Mock) wait(uint32) (nvml.EventData, nvml.Return) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) == 0 {
		return nvml.EventData{}, nvml.ERROR_TIMEOUT
	}
	e := m.events[0]
	m.events = m.events[1:]
	return e, nvml.SUCCESS
}
