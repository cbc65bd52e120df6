// Package gpu reads NVIDIA GPUs through NVML (github.com/NVIDIA/go-nvml)
// behind the small Source interface the agent needs, and bounds every NVML
// call (each device read, and the XID event poll) with a deadline, so that
// a hung driver call cannot stall a scrape.
//
// NVML needs cgo: nvml.go is built with cgo on Linux and loads
// libnvidia-ml at run time; elsewhere Open returns ErrUnavailable so the
// rest of caravan still builds with CGO_ENABLED=0.
package gpu
