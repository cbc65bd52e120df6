//go:build !(cgo && linux)

package gpu

// Open reports that NVML cannot be used by this build.
func Open() (Source, error) { return nil, ErrUnavailable }
