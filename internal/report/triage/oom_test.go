package triage

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestTriageOOMAtTheLimit(t *testing.T) {
	tests := []struct {
		name  string
		kills int
		last  time.Duration
		ev    string // evidence that must be quoted
	}{
		{"the cgroup counted the kill", 1, 20 * time.Second, "the kernel's OOM killer killed 1 process in the run's cgroup (Nomad's task event says it was not OOM-killed)"},
		// The kill took the cgroup before a sample saw it; memory was at
		// 160 MiB 5 s before the end, growing 8 MiB/s: at the limit by then.
		{"the memory says so", 0, 20 * time.Second, "host memory was 160 MiB at the last sample, 5s before the end, and growing 8 MiB/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, a := rigLeak(tt.kills, tt.last)
			r := Triage(Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}})
			if r.Reason.Kind != KindOOMKilled || r.Reason.Summary != "OOM: killed at its 200 MiB limit, growing 8 MiB/s" {
				t.Errorf("reason %q: %q; want an OOM kill at the limit with the growth rate", r.Reason.Kind, r.Reason.Summary)
			}
			if !slices.Contains(r.Reason.Evidence, tt.ev) {
				t.Errorf("evidence %q lacks %q", r.Reason.Evidence, tt.ev)
			}
		})
	}
	// A SIGKILL with memory far from the limit is the program's (or someone's).
	u, a := rigLeak(0, 5*time.Second)
	u.Timeline.RSS = record.Series{10 << 20, 10 << 20}
	u.RSSPeak, u.MemPeak = 10<<20, 11<<20
	if r := Triage(Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}}); r.Reason.Kind == KindOOMKilled {
		t.Errorf("flat 10 MiB of 200 MiB, killed: %q; not an OOM kill", r.Reason.Summary)
	}
}

// TestOOMKillTheRunSurvived: a data-loader worker killed while the run
// finished is worth a line, not the verdict.
func TestOOMKillTheRunSurvived(t *testing.T) {
	u, _ := rigLeak(2, 20*time.Second)
	a := alloc("4e1f0c2a-0000-4000-8000-000000000003", 10, done, run, 25*time.Second, 1, terminated(25*time.Second, 0, false))
	r := Triage(Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}})
	if r.Reason.Kind != KindSuccess {
		t.Fatalf("reason %+v, want success", r.Reason)
	}
	if f := finding(r, KindOOMKilled); f == nil || !strings.Contains(f.Summary, "killed 2 processes of the run, which carried on") {
		t.Errorf("finding %+v", f)
	}
}

// TestNoDataIsNotZero: the rig's GPUs report no utilisation; the report
// says "no data" and gives no advice built on a 0.
func TestNoDataIsNotZero(t *testing.T) {
	u, a := rigLeak(1, 20*time.Second)
	r := Triage(Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}})
	if r.Util != nil || finding(r, KindLowUtil) != nil {
		t.Errorf("util %+v, low-util finding %+v: the GPU reported no utilisation", r.Util, finding(r, KindLowUtil))
	}
	if !slices.Equal(r.NoData, []string{record.FigureGPUUtil, record.FigureGPUMem}) {
		t.Errorf("no data for %v", r.NoData)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"no_data":["gpu_util","gpu_mem"]`) || strings.Contains(string(b), `"gpu_util":{`) {
		t.Errorf("JSON %s", b)
	}
}
