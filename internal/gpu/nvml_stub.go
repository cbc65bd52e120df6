//go:build !(cgo && linux)

package gpu

// Open reports that NVML cannot be used by this build.
func Open() (Source, error) { return nil, ErrUnavailable }

// ReleaseZeroPages has nothing to release in a build without NVML.
func ReleaseZeroPages(Threads) (int, error) { return 0, nil }
