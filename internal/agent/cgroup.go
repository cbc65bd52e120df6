package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupUse is what an allocation's cgroups say, summed over its tasks
// (Nomad gives every task a cgroup of its own, named after the
// allocation and the task).
type cgroupUse struct {
	Found      bool
	Usage      uint64 // memory charged: RSS, page cache, kernel
	Peak       uint64 // highest Usage since the cgroup was made; 0: unknown
	Anon       uint64 // anonymous memory: the cgroup's RSS
	File       uint64 // page cache
	OOMKills   uint64 // processes the OOM killer killed in the cgroup
	CPUSeconds float64
	HasCPU     bool  // CPUSeconds was read (cgroup v1 often has no per-task cpuacct)
	PIDs       []int // the processes in the cgroups
}

// cgroupFS finds and reads the cgroups Nomad makes for each task: on
// cgroup v2 <root>/<parent>/<share|reserve>.slice/<alloc>.<task>.scope
// (parent nomad.slice), on v1 <root>/memory/<parent>/<alloc>.<task> (parent
// nomad), with per-task CPU accounting when cpuacct is mounted that way.
type cgroupFS struct {
	root   string // where the hierarchies are mounted: /sys/fs/cgroup
	parent string // Nomad's cgroup parent; "" for its default
}

// v1 reports whether the memory controller is on a cgroup v1 hierarchy.
func (c cgroupFS) v1() bool {
	fi, err := os.Stat(filepath.Join(c.root, "memory"))
	return err == nil && fi.IsDir()
}

// read sums the cgroups of allocation allocID; Found is false when it has
// none (a driver that makes no cgroup, or a layout this does not know).
func (c cgroupFS) read(allocID string) cgroupUse {
	if c.root == "" {
		return cgroupUse{}
	}
	if c.v1() {
		return c.readV1(allocID)
	}
	return c.readV2(allocID)
}

func (c cgroupFS) readV2(allocID string) cgroupUse {
	parent := c.parent
	if parent == "" {
		parent = "nomad.slice"
	}
	base := filepath.Join(c.root, strings.TrimPrefix(parent, "/"))
	dirs, _ := filepath.Glob(filepath.Join(base, "*", allocID+".*"))
	direct, _ := filepath.Glob(filepath.Join(base, allocID+".*"))
	var u cgroupUse
	u.HasCPU = true
	for _, d := range append(dirs, direct...) {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		u.Found = true
		u.Usage += readUint(filepath.Join(d, "memory.current"))
		u.Peak += readUint(filepath.Join(d, "memory.peak"))
		stat := readKV(filepath.Join(d, "memory.stat"))
		u.Anon += stat["anon"]
		u.File += stat["file"]
		u.OOMKills += readKV(filepath.Join(d, "memory.events"))["oom_kill"]
		cpu, ok := readKV(filepath.Join(d, "cpu.stat"))["usage_usec"]
		u.HasCPU = u.HasCPU && ok
		u.CPUSeconds += float64(cpu) / 1e6
		u.PIDs = append(u.PIDs, readPIDs(filepath.Join(d, "cgroup.procs"))...)
	}
	u.HasCPU = u.HasCPU && u.Found
	return u
}

func (c cgroupFS) readV1(allocID string) cgroupUse {
	parent := strings.TrimPrefix(c.parent, "/")
	if parent == "" {
		parent = "nomad"
	}
	mem := filepath.Join(c.root, "memory", parent)
	dirs, _ := filepath.Glob(filepath.Join(mem, allocID+"*"))
	var u cgroupUse
	u.HasCPU = true
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		u.Found = true
		u.Usage += readUint(filepath.Join(d, "memory.usage_in_bytes"))
		u.Peak += readUint(filepath.Join(d, "memory.max_usage_in_bytes"))
		stat := readKV(filepath.Join(d, "memory.stat"))
		u.Anon += stat["total_rss"]
		u.File += stat["total_cache"]
		u.OOMKills += readKV(filepath.Join(d, "memory.oom_control"))["oom_kill"]
		u.PIDs = append(u.PIDs, readPIDs(filepath.Join(d, "cgroup.procs"))...)
		// cpuacct is mounted alone or joined with cpu; Nomad puts a task
		// in a cpuacct cgroup of the same name only on some setups.
		ns, ok := uint64(0), false
		for _, h := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
			if b, err := os.ReadFile(filepath.Join(c.root, h, parent, filepath.Base(d), "cpuacct.usage")); err == nil {
				ns, ok = parseUint(b)
				break
			}
		}
		u.HasCPU = u.HasCPU && ok
		u.CPUSeconds += float64(ns) / 1e9
	}
	u.HasCPU = u.HasCPU && u.Found
	return u
}

func parseUint(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v, err == nil
}

// readUint reads a file holding one number; 0 when it is absent ("max"
// and other words count as absent too).
func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := parseUint(b)
	return v
}

// readKV reads a cgroup file of "key value" lines (memory.stat,
// memory.events, cpu.stat, memory.oom_control).
func readKV(path string) map[string]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return parseKV(b)
}

func parseKV(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		if n, ok := parseUint(v); ok {
			out[string(k)] = n
		}
	}
	return out
}

func readPIDs(path string) []int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}
