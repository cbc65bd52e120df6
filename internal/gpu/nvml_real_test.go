//go:build cgo && linux

package gpu_test

import (
	"os"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/caravan-ml/caravan/internal/gpu"
)

// TestOpenRealNVML opens NVIDIA's real libnvidia-ml, from CARAVAN_NVML_LIB
// (.ci/run fetches Debian's copy and sets it), else from the library path;
// it skips where there is none. go-nvml must load it, and without a driver,
// as on a node whose driver is not loaded, Open must fail with an error
// that says what to check: the agent then falls back on the device plugin.
func TestOpenRealNVML(t *testing.T) {
	path := os.Getenv("CARAVAN_NVML_LIB")
	lib := nvml.New()
	if path != "" {
		lib = nvml.New(nvml.WithLibraryPath(path))
	}
	n, err := gpu.OpenLib(lib)
	if err == nil {
		t.Logf("a driver is loaded: %d GPU(s)", len(n.Devices()))
		if err := n.Close(); err != nil {
			t.Error(err)
		}
		return
	}
	msg := err.Error()
	if strings.Contains(msg, nvml.ErrorString(nvml.ERROR_LIBRARY_NOT_FOUND)) {
		if path != "" {
			t.Fatalf("CARAVAN_NVML_LIB=%s cannot be loaded: %v", path, err)
		}
		t.Skip("libnvidia-ml.so.1 is not on the library path; set CARAVAN_NVML_LIB to a copy (.ci/fetch-libnvml fetches one)")
	}
	t.Logf("without a driver: %v", err)
	if !strings.Contains(msg, "NVML unavailable") || !strings.Contains(msg, "is the NVIDIA driver installed") {
		t.Errorf("%q does not say NVML is unavailable and what to check", msg)
	}
}
