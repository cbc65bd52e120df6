package gpu

import (
	"context"
	"errors"
	"math"
	"time"
)

// ErrUnavailable is returned by Open when this binary cannot use NVML.
var ErrUnavailable = errors.New("NVML unavailable: caravan was built without cgo; rebuild with CGO_ENABLED=1 on Linux (make build) to read GPUs directly, or rely on the Nomad device plugin stats")

// Device identifies one GPU.
type Device struct {
	Index int
	UUID  string
	Name  string // model, e.g. "NVIDIA H100 80GB HBM3"
}

// Stats is one read of a device. Float fields a device does not support
// are NaN; counters it does not support are -1. Callers export only what
// is present, as dcgm-exporter does.
type Stats struct {
	Device
	Util           float64 // SM busy, ratio 0-1
	MemUtil        float64 // memory controller busy, ratio 0-1
	MemUsed        uint64  // bytes
	MemTotal       uint64  // bytes
	TempC          float64 // degrees Celsius
	PowerW         float64 // watts
	PowerLimit     float64 // watts (enforced limit)
	SMClockHz      float64 // hertz
	ECCCorrected   int64
	ECCUncorrected int64
	PCIeTxBps      float64 // bytes per second
	PCIeRxBps      float64 // bytes per second
	Processes      []Process
}

// Process is a compute process on a device.
type Process struct {
	PID        uint32
	UsedMemory uint64  // bytes; 0 when the driver does not say
	SMUtil     float64 // ratio 0-1 from the latest utilisation sample; NaN without one
}

// XID is one XID error event reported by the driver.
type XID struct {
	Seq   uint64 // increasing per Reader, so consumers can resume
	Time  time.Time
	Index int
	UUID  string
	Code  uint64
}

// Source is what the agent needs from a GPU library. Read and PollXIDs may
// block (a hung driver call cannot be interrupted); wrap a Source in a
// Reader to bound them.
type Source interface {
	Devices() []Device
	Read(ctx context.Context, index int) (Stats, error)
	// PollXIDs returns the XID events that arrived since the last poll
	// without waiting for new ones.
	PollXIDs() []XID
	Close() error
}

// NewStats returns Stats for d with every optional field marked absent.
func NewStats(d Device) Stats {
	nan := math.NaN()
	return Stats{Device: d, Util: nan, MemUtil: nan, TempC: nan, PowerW: nan, PowerLimit: nan,
		SMClockHz: nan, ECCCorrected: -1, ECCUncorrected: -1, PCIeTxBps: nan, PCIeRxBps: nan}
}
