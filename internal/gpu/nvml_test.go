//go:build cgo && linux

package gpu_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/gpu/nvmlmock"
)

func TestNVMLReadsMockDevices(t *testing.T) {
	m := nvmlmock.New(nvmlmock.Options{GPUs: 4, ProcsPerGPU: 2})
	// GPU 3 does not support power or PCIe readings: those fields stay absent.
	m.Device(3).GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	m.Device(3).GetPcieThroughputFunc = func(nvml.PcieUtilCounter) (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	n, err := gpu.OpenLib(m)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	devs := n.Devices()
	if len(devs) != 4 || devs[2].UUID != nvmlmock.UUID(2) || devs[2].Name != "NVIDIA H100 80GB HBM3" {
		t.Fatalf("devices = %+v", devs)
	}
	s, err := n.Read(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"util", s.Util, 0.25},
		{"mem util", s.MemUtil, 0.12},
		{"mem used", float64(s.MemUsed), 3 << 32},
		{"temp", s.TempC, 42},
		{"power", s.PowerW, 320},
		{"power limit", s.PowerLimit, 700},
		{"sm clock", s.SMClockHz, 1980e6},
		{"ecc corrected", float64(s.ECCCorrected), 2},
		{"pcie tx", s.PCIeTxBps, 1000 * 1024},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(s.Processes) != 2 || s.Processes[1].PID != 1005 || s.Processes[1].UsedMemory != 2<<30 || s.Processes[1].SMUtil != 0.06 {
		t.Errorf("processes = %+v", s.Processes)
	}
	s3, err := n.Read(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s3.PowerW) || !math.IsNaN(s3.PCIeRxBps) || math.IsNaN(s3.TempC) {
		t.Errorf("unsupported fields must be NaN, supported ones set: %+v", s3)
	}
}

func TestNVMLDeviceErrorHangAndXIDs(t *testing.T) {
	m := nvmlmock.New(nvmlmock.Options{GPUs: 3, ProcsPerGPU: 1})
	m.Device(1).GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{}, nvml.ERROR_GPU_IS_LOST
	}
	release := make(chan struct{})
	defer close(release)
	m.Device(2).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		<-release
		return nvml.Memory{}, nvml.SUCCESS
	}
	n, err := gpu.OpenLib(m)
	if err != nil {
		t.Fatal(err)
	}
	r := gpu.NewReader(n, 50*time.Millisecond)
	res := r.ReadAll(context.Background())
	if res[0].Err != nil {
		t.Errorf("GPU 0: %v", res[0].Err)
	}
	if res[1].Err == nil {
		t.Error("GPU 1: want the lost-GPU error")
	}
	if res[2].Err == nil {
		t.Error("GPU 2: want a timeout")
	}
	m.InjectXID(2, 79)
	m.InjectXID(0, 13)
	counts, err := r.PollXIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0].Code != 13 || counts[0].Index != 0 || counts[1].UUID != nvmlmock.UUID(2) || counts[1].Code != 79 {
		t.Errorf("XID counts = %+v", counts)
	}
}

func TestOpenLibInitFailure(t *testing.T) {
	m := nvmlmock.New(nvmlmock.Options{GPUs: 1})
	m.InitFunc = func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }
	shutdowns := 0
	m.ShutdownFunc = func() nvml.Return { shutdowns++; return nvml.SUCCESS }
	if _, err := gpu.OpenLib(m); err == nil {
		t.Fatal("want an error when NVML cannot initialise")
	}
	// Shutdown is what unloads the library after a failed Init.
	if shutdowns != 1 {
		t.Errorf("Shutdown called %d times after a failed Init, want 1", shutdowns)
	}
}

func TestOpenLibSkipsALostGPU(t *testing.T) {
	m := nvmlmock.New(nvmlmock.Options{GPUs: 3, ProcsPerGPU: 1})
	next := m.DeviceGetHandleByIndexFunc
	m.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 1 {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return next(i)
	}
	n, err := gpu.OpenLib(m)
	if err != nil {
		t.Fatal(err)
	}
	devs := n.Devices()
	if len(devs) != 2 || devs[0].Index != 0 || devs[1].Index != 2 || len(n.Skipped()) != 1 {
		t.Fatalf("devices %+v, skipped %v", devs, n.Skipped())
	}
	s, err := n.Read(context.Background(), 2)
	if err != nil || s.UUID != nvmlmock.UUID(2) || s.Util != 0.25 {
		t.Errorf("GPU 2 after a lost GPU 1: %+v, %v", s, err)
	}
	if _, err := n.Read(context.Background(), 1); err == nil {
		t.Error("reading the lost GPU must fail")
	}
}
