//go:build cgo && linux

package gpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is a Source over an nvml.Interface: the real library (Open) or a
// mock (OpenLib, in tests).
type NVML struct {
	lib     nvml.Interface
	handles []nvml.Device
	devs    []Device
	events  nvml.EventSet // nil when XID events are not supported
	now     func() time.Time
	pos     map[int]int // NVML index → position in handles and devs
	skipped []error
}

// Open loads libnvidia-ml and opens every device.
func Open() (Source, error) {
	n, err := OpenLib(nvml.New())
	if err != nil {
		return nil, err
	}
	return n, nil
}

// OpenLib initialises lib and opens every device it reports. Devices
// whose identity cannot be read are an error: a device caravan cannot name
// cannot be attributed.
func OpenLib(lib nvml.Interface) (*NVML, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		// NVML's C Shutdown succeeds after a failed Init; calling it leaves
		// go-nvml and NVML in the state a later Open expects.
		lib.Shutdown()
		return nil, fmt.Errorf("NVML unavailable: initialising NVML: %s (is the NVIDIA driver installed and libnvidia-ml.so.1 on the library path?)", nvml.ErrorString(ret))
	}
	n := &NVML{lib: lib, now: time.Now, pos: map[int]int{}}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML: counting devices: %s", nvml.ErrorString(ret))
	}
	for i := 0; i < count; i++ {
		// A GPU that fell off the bus must not hide the others: it is
		// skipped, and Skipped says why.
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			n.skipped = append(n.skipped, fmt.Errorf("NVML: opening GPU %d: %s", i, nvml.ErrorString(ret)))
			continue
		}
		uuid, ret := h.GetUUID()
		if ret != nvml.SUCCESS {
			n.skipped = append(n.skipped, fmt.Errorf("NVML: reading the UUID of GPU %d: %s", i, nvml.ErrorString(ret)))
			continue
		}
		name, ret := h.GetName()
		if ret != nvml.SUCCESS {
			name = "unknown"
		}
		n.pos[i] = len(n.handles)
		n.handles = append(n.handles, h)
		n.devs = append(n.devs, Device{Index: i, UUID: uuid, Name: name})
	}
	if count > 0 && len(n.devs) == 0 {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML: none of the %d GPUs could be opened: %w", count, errors.Join(n.skipped...))
	}
	n.registerXIDs()
	return n, nil
}

// Skipped lists the GPUs that could not be opened, as errors.
func (n *NVML) Skipped() []error { return n.skipped }

// registerXIDs subscribes to XID critical errors on every device that
// supports them; without an event set the agent simply reports no XIDs.
func (n *NVML) registerXIDs() {
	set, ret := n.lib.EventSetCreate()
	if ret != nvml.SUCCESS || set == nil {
		return
	}
	registered := false
	for _, h := range n.handles {
		if h.RegisterEvents(nvml.EventTypeXidCriticalError, set) == nvml.SUCCESS {
			registered = true
		}
	}
	if !registered {
		set.Free()
		return
	}
	n.events = set
}

// Devices lists the opened devices.
func (n *NVML) Devices() []Device { return n.devs }

// Read reads one device. Only the utilisation and memory reads are
// required; any other field the device does not support is left absent.
func (n *NVML) Read(_ context.Context, index int) (Stats, error) {
	p, ok := n.pos[index]
	if !ok {
		return Stats{}, fmt.Errorf("no GPU with index %d", index)
	}
	h := n.handles[p]
	s := NewStats(n.devs[p])
	u, ret := h.GetUtilizationRates()
	if ret != nvml.SUCCESS {
		return s, fmt.Errorf("reading utilisation: %w", nvmlErr(ret))
	}
	s.Util, s.MemUtil = float64(u.Gpu)/100, float64(u.Memory)/100
	m, ret := h.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return s, fmt.Errorf("reading memory: %w", nvmlErr(ret))
	}
	s.MemUsed, s.MemTotal = m.Used, m.Total
	if v, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		s.TempC = float64(v)
	}
	if v, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
		s.PowerW = float64(v) / 1000 // milliwatts
	}
	if v, ret := h.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
		s.PowerLimit = float64(v) / 1000
	}
	if v, ret := h.GetClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
		s.SMClockHz = float64(v) * 1e6 // MHz
	}
	if v, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC); ret == nvml.SUCCESS {
		s.ECCCorrected = int64(v)
	}
	if v, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC); ret == nvml.SUCCESS {
		s.ECCUncorrected = int64(v)
	}
	if v, ret := h.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES); ret == nvml.SUCCESS {
		s.PCIeTxBps = float64(v) * 1024 // KB/s
	}
	if v, ret := h.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES); ret == nvml.SUCCESS {
		s.PCIeRxBps = float64(v) * 1024
	}
	procs, ret := h.GetComputeRunningProcesses()
	if ret != nvml.SUCCESS && ret != nvml.ERROR_NOT_SUPPORTED {
		return s, fmt.Errorf("listing compute processes: %w", nvmlErr(ret))
	}
	// Samples from the last 10 s: enough for any scrape or sample interval,
	// and stateless, so concurrent readers do not steal each other's samples.
	since := uint64(n.now().Add(-10 * time.Second).UnixMicro())
	samples, ret := h.GetProcessUtilization(since)
	if ret != nvml.SUCCESS {
		samples = nil // NOT_FOUND means no samples in the window
	}
	for _, p := range procs {
		mem := p.UsedGpuMemory
		if mem == math.MaxUint64 { // NVML_VALUE_NOT_AVAILABLE
			mem = 0
		}
		proc := Process{PID: p.Pid, UsedMemory: mem, SMUtil: math.NaN()}
		var latest uint64
		for _, smp := range samples {
			if smp.Pid == p.Pid && smp.TimeStamp >= latest {
				latest, proc.SMUtil = smp.TimeStamp, float64(smp.SmUtil)/100
			}
		}
		s.Processes = append(s.Processes, proc)
	}
	return s, nil
}

// maxXIDPoll bounds one drain of the event set.
const maxXIDPoll = 64

// PollXIDs drains pending XID events without waiting.
func (n *NVML) PollXIDs() []XID {
	if n.events == nil {
		return nil
	}
	var out []XID
	for range maxXIDPoll {
		ev, ret := n.events.Wait(0)
		if ret != nvml.SUCCESS {
			break
		}
		if ev.EventType&nvml.EventTypeXidCriticalError == 0 {
			continue
		}
		x := XID{Time: n.now(), Code: ev.EventData, Index: -1}
		if ev.Device != nil {
			if uuid, ret := ev.Device.GetUUID(); ret == nvml.SUCCESS {
				x.UUID = uuid
				for _, d := range n.devs {
					if d.UUID == uuid {
						x.Index = d.Index
					}
				}
			}
		}
		out = append(out, x)
	}
	return out
}

// Close frees the event set and shuts NVML down.
func (n *NVML) Close() error {
	if n.events != nil {
		n.events.Free()
	}
	if ret := n.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML shutdown: %w", nvmlErr(ret))
	}
	return nil
}

func nvmlErr(ret nvml.Return) error { return errors.New(nvml.ErrorString(ret)) }
