package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// allocIDPattern matches a Nomad allocation ID (a UUID).
var allocIDPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// procInfo is what the agent learns about a GPU process from /proc.
type procInfo struct {
	AllocID string // "" when the process is not in a Nomad allocation
	Comm    string
}

// readProc attributes pid to a Nomad allocation. The cgroup path is tried
// first because it is small and survives exec; the environment (which
// docker and exec tasks inherit from Nomad) is the fallback.
func readProc(root string, pid uint32) procInfo {
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	var p procInfo
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		p.Comm = strings.TrimSpace(string(b))
	}
	p.AllocID = procAlloc(dir)
	return p
}

// procAlloc is the allocation of the process whose /proc directory is
// dir, or "".
func procAlloc(dir string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		if id := allocFromCgroup(b); id != "" {
			return id
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
		return allocFromEnviron(b)
	}
	return ""
}

// allocFromCgroup finds the allocation ID in a /proc/PID/cgroup file:
// cgroups v2 "0::/nomad.slice/share.slice/<alloc>.<task>.scope" or v1
// "N:memory:/nomad/<alloc>-<task>". Only Nomad's own hierarchy counts, so a
// UUID in some other cgroup name is not mistaken for an allocation.
func allocFromCgroup(b []byte) string {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		_, path, ok := bytes.Cut(line, []byte("::"))
		if !ok {
			// v1: hierarchy-ID:controllers:path
			parts := bytes.SplitN(line, []byte(":"), 3)
			if len(parts) != 3 {
				continue
			}
			path = parts[2]
		}
		if !bytes.Contains(path, []byte("nomad")) {
			continue
		}
		if id := allocIDPattern.Find(path); id != nil {
			return string(id)
		}
	}
	return ""
}

// allocFromEnviron finds NOMAD_ALLOC_ID in a NUL-separated environment.
func allocFromEnviron(b []byte) string {
	const key = "NOMAD_ALLOC_ID="
	for kv := range bytes.SplitSeq(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(key)); ok && allocIDPattern.Match(v) {
			return string(v)
		}
	}
	return ""
}

// netDev is one interface's byte counters from /proc/net/dev.
type netDev struct {
	Name   string
	RxByte uint64
	TxByte uint64
}

// readNetDev reads the host's interface counters, loopback excluded.
func readNetDev(root string) ([]netDev, error) {
	f, err := os.Open(filepath.Join(root, "net", "dev"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNetDev(f), nil
}

func parseNetDev(f interface{ Read([]byte) (int, error) }) []netDev {
	var out []netDev
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue // the two header lines
		}
		name = strings.TrimSpace(name)
		fields := strings.Fields(rest)
		if name == "lo" || len(fields) < 9 {
			continue
		}
		rx, err1 := strconv.ParseUint(fields[0], 10, 64)
		tx, err2 := strconv.ParseUint(fields[8], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, netDev{Name: name, RxByte: rx, TxByte: tx})
	}
	return out
}
