// Package gpu reads NVIDIA GPUs through NVML (github.com/NVIDIA/go-nvml)
// behind the small Source interface the agent needs, and guards every read
// with a per-device deadline so that one hung device cannot stall a scrape.
//
// NVML needs cgo: nvml.go is built with cgo on Linux and loads
// libnvidia-ml at run time; elsewhere Open returns ErrUnavailable so the
// rest of caravan still builds with CGO_ENABLED=0.
//
// NVML zeroes 12 MB of static tables in Init and cannot be unloaded once
// the executable has bound its symbols; ReleaseZeroPages gives the pages
// that stay zero back to the kernel, which keeps the agent in its memory
// budget. It write-protects them meanwhile (userfaultfd), so that a thread
// NVML started cannot lose a write, and falls back on counting threads
// where the kernel will not.
package gpu
