package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: fixed at 100 by
// the kernel's ABI on every architecture.
const userHZ = 100

// procUse sums what /proc says about a set of processes.
type procUse struct {
	RSS        uint64  // resident memory, shared pages counted in each process
	CPUSeconds float64 // user and system time, with that of the children they waited for
	N          int     // processes read
}

// readProcUse sums the resident memory and CPU time of pids. A process
// that has gone between listing and reading is skipped.
func readProcUse(root string, pids []int) procUse {
	var u procUse
	page := uint64(os.Getpagesize())
	for _, pid := range pids {
		dir := filepath.Join(root, strconv.Itoa(pid))
		statm, err1 := os.ReadFile(filepath.Join(dir, "statm"))
		stat, err2 := os.ReadFile(filepath.Join(dir, "stat"))
		if err1 != nil || err2 != nil {
			continue
		}
		f := bytes.Fields(statm)
		if len(f) < 2 {
			continue
		}
		res, err := strconv.ParseUint(string(f[1]), 10, 64)
		cpu, ok := parseStatCPU(stat)
		if err != nil || !ok {
			continue
		}
		u.RSS += res * page
		u.CPUSeconds += cpu
		u.N++
	}
	return u
}

// parseStatCPU reads utime, stime, cutime and cstime (fields 14-17) from
// a /proc/PID/stat line, in seconds. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from its closing one.
func parseStatCPU(b []byte) (float64, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 15 {
		return 0, false
	}
	var ticks int64
	for _, s := range f[11:15] {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += v
	}
	return float64(ticks) / userHZ, true
}

// netNS is the network namespace of pid ("net:[4026531840]"), "" when
// unreadable.
func netNS(root string, pid int) string {
	s, err := os.Readlink(filepath.Join(root, strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		return ""
	}
	return s
}

// hostNetNS is the host's network namespace: that of PID 1, else the
// agent's own.
func hostNetNS(root string) string {
	if ns := netNS(root, 1); ns != "" {
		return ns
	}
	s, _ := os.Readlink(filepath.Join(root, "self", "ns", "net"))
	return s
}

// ownNetPID is the first of pids whose network namespace is not the
// host's, or 0: a run with a namespace of its own (bridge networking, a
// container's) has its own traffic there, while one in the host's network
// has no traffic that is its alone.
func ownNetPID(root, host string, pids []int) int {
	if host == "" {
		return 0
	}
	for _, pid := range pids {
		if ns := netNS(root, pid); ns != "" && ns != host {
			return pid
		}
	}
	return 0
}

// netOf sums the interface counters of pid's network namespace, loopback
// excluded; ok is false when the process is gone.
func netOf(root string, pid int) (rx, tx uint64, ok bool) {
	devs, err := readNetDev(filepath.Join(root, strconv.Itoa(pid)))
	if err != nil {
		return 0, 0, false
	}
	for _, d := range devs {
		rx += d.RxByte
		tx += d.TxByte
	}
	return rx, tx, true
}

// scanProcs maps every process under root to its allocation, for runs
// whose cgroups were not found: their processes are then summed from /proc.
func scanProcs(root string) map[string][]int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	out := map[string][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if id := procAlloc(filepath.Join(root, e.Name())); id != "" {
			out[id] = append(out[id], pid)
		}
	}
	return out
}
