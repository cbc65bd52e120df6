package triage

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// xidInfo is what NVIDIA's XID catalogue says about a code, reduced to
// what a run's owner needs: a name, and whether the program (app) or the
// machine (hardware, driver) is the usual culprit.
type xidInfo struct {
	name string
	app  bool
}

var xidCatalogue = map[uint64]xidInfo{
	13:  {"graphics engine exception", true},
	31:  {"GPU memory page fault", true},
	32:  {"invalid or corrupted push buffer stream", false},
	38:  {"driver firmware error", false},
	43:  {"GPU stopped processing", true},
	45:  {"preemptive cleanup after earlier errors", true},
	48:  {"double-bit ECC error", false},
	61:  {"internal micro-controller breakpoint", false},
	62:  {"internal micro-controller halt", false},
	63:  {"ECC page retirement or row remapping", false},
	64:  {"ECC page retirement or row remapping failure", false},
	69:  {"graphics engine class error", true},
	74:  {"NVLink error", false},
	79:  {"GPU has fallen off the bus", false},
	92:  {"high single-bit ECC error rate", false},
	94:  {"contained ECC error", false},
	95:  {"uncontained ECC error", false},
	109: {"context switch timeout", true},
	119: {"GSP RPC timeout", false},
	120: {"GSP error", false},
	154: {"GPU recovery action changed", false},
}

// xidLines finds XIDs in kernel-log style lines ("NVRM: Xid (PCI:0000:3b:00):
// 79, pid=...") and in looser mentions ("Xid 79", "XID error 48").
var xidLines = matcher{keywords: []string{"xid"},
	re: regexp.MustCompile(`(?i)\bxid\b(?:\s*\([^)]*\))?(?:\s*error)?[\s:=#]+(\d{1,3})\b`)}

// gpuFault matches driver and runtime messages about the GPU itself failing,
// which mean the same as a hardware XID even when no code is printed.
var gpuFault = matcher{keywords: []string{"fallen off the bus", "uncorrectable ecc", "eccuncorrectable", "ecc_uncorrectable", "gpu is lost", "unrecoverable error on the gpu"},
	re: regexp.MustCompile(`(?i)fallen off the bus|uncorrectable ECC error|cudaErrorECCUncorrectable|` +
		`CUDA_ERROR_ECC_UNCORRECTABLE|GPU is lost|unrecoverable error on the GPU`)}

// xidFindings collects GPU errors from the agent's usage record (XID
// events from NVML), the task's events and its stderr: one finding per
// code, machine faults before program faults.
func xidFindings(u *record.Usage, ts *api.TaskState, stderr, node string) []Finding {
	byCode := gatherXIDs(u, ts, stderr)
	var out []Finding
	for _, c := range xidOrder(byCode) {
		out = append(out, byCode[c].finding(node))
	}
	return out
}

// xidNoCode is the code of a GPU fault message that gives no XID code.
const xidNoCode = 0

// xidSeen is what was seen of one XID code.
type xidSeen struct {
	code     uint64
	gpus     []string
	count    int
	evidence []string // up to 3 distinct lines
}

type xidTally map[uint64]*xidSeen

func (t xidTally) add(code uint64, gpu, ev string) {
	s := t[code]
	if s == nil {
		s = &xidSeen{code: code}
		t[code] = s
	}
	s.count++
	if gpu != "" && !slices.Contains(s.gpus, gpu) {
		s.gpus = append(s.gpus, gpu)
	}
	if ev != "" && len(s.evidence) < 3 && !slices.Contains(s.evidence, ev) {
		s.evidence = append(s.evidence, ev)
	}
}

// gatherXIDs counts the XIDs NVML reported, then those written in the
// task's events and stderr, then GPU fault messages that give no code.
func gatherXIDs(u *record.Usage, ts *api.TaskState, stderr string) xidTally {
	byCode := xidTally{}
	if u != nil {
		for _, x := range u.XIDs {
			byCode.add(x.Code, x.UUID, fmt.Sprintf("NVML: XID %d on %s at %s", x.Code, x.UUID, x.Time.UTC().Format("15:04:05")))
		}
	}
	var text strings.Builder
	if ts != nil {
		for _, e := range ts.Events {
			if e != nil {
				text.WriteString(eventLine(e) + "\n")
			}
		}
	}
	text.WriteString(stderr)
	for _, l := range xidLines.lines(text.String(), 50) {
		m := xidLines.re.FindStringSubmatch(l)
		if code, err := strconv.ParseUint(m[1], 10, 64); err == nil {
			byCode.add(code, "", l)
		}
	}
	for _, l := range gpuFault.lines(text.String(), 3) {
		if !xidLines.re.MatchString(l) {
			byCode.add(xidNoCode, "", l)
		}
	}
	return byCode
}

// xidOrder sorts the codes seen, hardware first: it is the cause when
// both appear (an XID 79 makes every kernel fail after it).
func xidOrder(byCode xidTally) []uint64 {
	codes := make([]uint64, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b uint64) int {
		if ha, hb := !xidCatalogue[a].app, !xidCatalogue[b].app; ha != hb {
			if ha {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	return codes
}

// finding says what the code is, where it was seen, and who should act:
// the run's owner for a program fault, the cluster admins otherwise.
func (s *xidSeen) finding(node string) Finding {
	c := s.code
	info, known := xidCatalogue[c]
	f := Finding{Kind: KindXID, Evidence: s.evidence}
	where := " on " + node
	if len(s.gpus) > 0 {
		where += " (" + strings.Join(s.gpus, ", ") + ")"
	}
	times := ""
	if s.count > 1 {
		times = fmt.Sprintf(", %d times", s.count)
	}
	switch {
	case c == xidNoCode:
		f.Summary = "the GPU failed" + where
		info.app = false
	case known:
		f.Summary = fmt.Sprintf("GPU XID %d (%s)%s%s", c, info.name, where, times)
	default:
		f.Summary = fmt.Sprintf("GPU XID %d%s%s", c, where, times)
	}
	if info.app {
		f.Advice = "This XID usually means the program made an illegal GPU memory access or a kernel faulted: " +
			"rerun with CUDA_LAUNCH_BLOCKING=1 (or compute-sanitizer) to find the kernel."
	} else {
		f.Advice = "The GPU or its driver on " + node + " reported a fault; nothing in the run is likely at fault. " +
			"Rerun it, and tell the cluster admins about " + node + " so they can drain it."
	}
	return f
}
