package agent

import (
	"bufio"
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

	once sync.Once
	isV1 bool
}

// cgroupNeed says which files to read: OOM kills and peak memory always;
// usage only when no better source has it, the processes only when
// something needs them.
type cgroupNeed struct {
	memory bool // usage, RSS and cache
	cpu    bool
	pids   bool // also when cpu is needed and the cgroup has no CPU time
}

// v1 reports whether the memory controller is on a cgroup v1 hierarchy.
func (c *cgroupFS) v1() bool {
	c.once.Do(func() {
		fi, err := os.Stat(filepath.Join(c.root, "memory"))
		c.isV1 = err == nil && fi.IsDir()
	})
	return c.isV1
}

// find lists the cgroups of allocation allocID, one per task; none for a
// driver that makes no cgroup, or a layout this does not know.
func (c *cgroupFS) find(allocID string) []string {
	if c.root == "" {
		return nil
	}
	var dirs []string
	if c.v1() {
		parent := cmp.Or(strings.TrimPrefix(c.parent, "/"), "nomad")
		dirs, _ = filepath.Glob(filepath.Join(c.root, "memory", parent, allocID+"*"))
	} else {
		base := filepath.Join(c.root, strings.TrimPrefix(cmp.Or(c.parent, "nomad.slice"), "/"))
		dirs, _ = filepath.Glob(filepath.Join(base, "*", allocID+".*"))
		direct, _ := filepath.Glob(filepath.Join(base, allocID+".*"))
		dirs = append(dirs, direct...)
	}
	return slices.DeleteFunc(dirs, func(d string) bool {
		fi, err := os.Stat(d)
		return err != nil || !fi.IsDir()
	})
}

// read sums the cgroups dirs (from find). Found is false when none of
// them could be read: the run's tasks have ended.
func (c *cgroupFS) read(dirs []string, need cgroupNeed) cgroupUse {
	var u cgroupUse
	u.HasCPU = need.cpu
	for _, d := range dirs {
		if c.v1() {
			c.readV1(d, need, &u)
		} else {
			c.readV2(d, need, &u)
		}
	}
	u.HasCPU = u.HasCPU && u.Found
	return u
}

func (c *cgroupFS) readV2(d string, need cgroupNeed, u *cgroupUse) {
	events := readKV(filepath.Join(d, "memory.events"))
	if events == nil {
		return
	}
	u.Found = true
	u.OOMKills += events["oom_kill"]
	u.Peak += readUint(filepath.Join(d, "memory.peak"))
	if need.memory {
		u.Usage += readUint(filepath.Join(d, "memory.current"))
		stat := readKV(filepath.Join(d, "memory.stat"))
		u.Anon += stat["anon"]
		u.File += stat["file"]
	}
	if need.cpu {
		cpu, ok := readKV(filepath.Join(d, "cpu.stat"))["usage_usec"]
		u.HasCPU = u.HasCPU && ok
		u.CPUSeconds += float64(cpu) / 1e6
	}
	if need.pids || (need.cpu && !u.HasCPU) {
		u.PIDs = append(u.PIDs, readPIDs(filepath.Join(d, "cgroup.procs"))...)
	}
}

func (c *cgroupFS) readV1(d string, need cgroupNeed, u *cgroupUse) {
	oom := readKV(filepath.Join(d, "memory.oom_control"))
	if oom == nil {
		return
	}
	u.Found = true
	u.OOMKills += oom["oom_kill"]
	u.Peak += readUint(filepath.Join(d, "memory.max_usage_in_bytes"))
	if need.memory {
		u.Usage += readUint(filepath.Join(d, "memory.usage_in_bytes"))
		stat := readKV(filepath.Join(d, "memory.stat"))
		u.Anon += stat["total_rss"]
		u.File += stat["total_cache"]
	}
	if need.cpu {
		// cpuacct is mounted alone or joined with cpu; Nomad puts a task
		// in a cpuacct cgroup of the same name only on some setups.
		parent := cmp.Or(strings.TrimPrefix(c.parent, "/"), "nomad")
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
	if need.pids || (need.cpu && !u.HasCPU) {
		u.PIDs = append(u.PIDs, readPIDs(filepath.Join(d, "cgroup.procs"))...)
	}
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
