package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// files writes a tree of files under root: path → content.
func files(t testing.TB, root string, tree map[string]string) {
	t.Helper()
	for p, content := range tree {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// procStat is a /proc/PID/stat line with the given CPU ticks in utime.
func procStat(pid int, comm string, utime int) string {
	return strconv.Itoa(pid) + " (" + comm + ") S 1 1 1 0 -1 4194304 100 0 0 0 " + strconv.Itoa(utime) + " 0 0 0 20 0 1 0 100 1000000 50\n"
}

// rawExecNode is a node with run A as Nomad reports a raw_exec run on
// cgroup v1: allocation stats present but empty. The caller lays out the
// cgroups and /proc.
type rawExecNode struct {
	agent          *Agent
	nomad          *fakeNomad
	clock          *fakeClock
	proc, cgroupFS string
}

func newRawExecNode(t *testing.T) *rawExecNode {
	t.Helper()
	fn := newFakeNomad()
	delete(fn.allocs, allocB)
	delete(fn.allocs, allocC)
	fn.stats[allocA] = &api.AllocResourceUsage{ResourceUsage: &api.ResourceUsage{
		MemoryStats: &api.MemoryStats{}, CpuStats: &api.CpuStats{}}} // what Nomad 2.0.5 returns for raw_exec on cgroup v1
	n := &rawExecNode{nomad: fn, clock: newClock(), proc: t.TempDir(), cgroupFS: t.TempDir()}
	n.agent = New(Config{Node: "gpu-node-1", NodeID: nodeID, Pool: "gpu", ProcRoot: n.proc, CgroupRoot: n.cgroupFS,
		Nomad: fn, Now: n.clock.Now})
	return n
}

// process adds a process of run A to /proc, in cgroup (a /proc/PID/cgroup
// file's content).
func (n *rawExecNode) process(t *testing.T, pid, rssPages, utime int, cgroup string) {
	p := strconv.Itoa(pid)
	files(t, n.proc, map[string]string{
		p + "/comm":    "tail\n",
		p + "/cgroup":  cgroup,
		p + "/statm":   "30000 " + strconv.Itoa(rssPages) + " 300 10 0 25000 0\n",
		p + "/stat":    procStat(pid, "tail", utime),
		p + "/environ": "PATH=/bin\x00NOMAD_ALLOC_ID=" + allocA + "\x00",
	})
}

func (n *rawExecNode) scrape(t *testing.T) string {
	t.Helper()
	return scrape(t, NewCollector(n.agent))
}

const runALabels = `alloc="` + allocA + `",experiment="resnet50",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"`

// sourceLine is run A's caravan_run_usage_source series for figure.
func sourceLine(figure, source string) string {
	return `caravan_run_usage_source{alloc="` + allocA + `",experiment="resnet50",figure="` + figure +
		`",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d",source="` + source + `"} 1`
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("scrape lacks %s", l)
		}
	}
}

// TestRunFiguresFromCgroupV1 is the rig's case: Nomad's stats are empty,
// the task's cgroup v1 says 200 MiB, and CPU comes from its processes
// since v1 has no per-task cpuacct there.
func TestRunFiguresFromCgroupV1(t *testing.T) {
	n := newRawExecNode(t)
	cg := "memory/nomad/" + allocA + ".train/"
	files(t, n.cgroupFS, map[string]string{
		cg + "memory.usage_in_bytes":              "220200960\n",
		cg + "memory.max_usage_in_bytes":          "230686720\n",
		cg + "memory.stat":                        "cache 4096\nrss 209715200\ntotal_cache 4096\ntotal_rss 209715200\n",
		cg + "memory.oom_control":                 "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		cg + "cgroup.procs":                       "4242\n",
		"cpu/nomad/" + allocA + ".train/cpu.stat": "nr_periods 0\n",
	})
	n.process(t, 4242, 51200, 100, "4:memory:/nomad/"+allocA+".train\n1:cpu:/nomad/"+allocA+".train\n0::/\n")
	first := n.scrape(t)
	wantLines(t, first,
		`caravan_run_memory_rss_bytes{`+runALabels+`} 2.097152e+08`,
		`caravan_run_memory_usage_bytes{`+runALabels+`} 2.2020096e+08`,
		`caravan_run_memory_max_usage_bytes{`+runALabels+`} 2.3068672e+08`,
		`caravan_run_oom_kills_total{`+runALabels+`} 1`,
		sourceLine("rss", "cgroup"), sourceLine("memory", "cgroup"), sourceLine("oom_kills", "cgroup"),
	)
	if strings.Contains(first, "caravan_run_cpu_cores{") {
		t.Error("a CPU rate from a single reading: there is none yet")
	}
	// Two seconds and 150 ticks (1.5 s of CPU) later: 0.75 cores.
	n.clock.Advance(2 * time.Second)
	n.process(t, 4242, 51200, 250, "4:memory:/nomad/"+allocA+".train\n0::/\n")
	second := n.scrape(t)
	wantLines(t, second, `caravan_run_cpu_cores{`+runALabels+`} 0.75`, sourceLine("cpu", "proc"))
}

func TestRunFiguresFromCgroupV2(t *testing.T) {
	n := newRawExecNode(t)
	cg := "nomad.slice/share.slice/" + allocA + ".train.scope/"
	files(t, n.cgroupFS, map[string]string{
		"cgroup.controllers":  "cpu memory pids\n",
		cg + "memory.current": "104857600\n",
		cg + "memory.peak":    "157286400\n",
		cg + "memory.stat":    "anon 94371840\nfile 10485760\nkernel 1000\n",
		cg + "memory.events":  "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
		cg + "cpu.stat":       "usage_usec 1000000\nuser_usec 800000\nsystem_usec 200000\n",
		cg + "cgroup.procs":   "",
		"nomad.slice/share.slice/other.scope/memory.current": "1\n",
	})
	n.scrape(t)
	n.clock.Advance(4 * time.Second)
	files(t, n.cgroupFS, map[string]string{cg + "cpu.stat": "usage_usec 9000000\n"})
	text := n.scrape(t)
	wantLines(t, text,
		`caravan_run_memory_rss_bytes{`+runALabels+`} 9.437184e+07`,
		`caravan_run_memory_cache_bytes{`+runALabels+`} 1.048576e+07`,
		`caravan_run_memory_max_usage_bytes{`+runALabels+`} 1.572864e+08`,
		`caravan_run_oom_kills_total{`+runALabels+`} 2`,
		`caravan_run_cpu_cores{`+runALabels+`} 2`,
		sourceLine("cpu", "cgroup"),
	)
}

// TestRunFiguresFromProc: no cgroup of the run (a driver that makes none):
// its processes, found by their environment, are summed.
func TestRunFiguresFromProc(t *testing.T) {
	n := newRawExecNode(t)
	n.process(t, 7001, 25600, 10, "0::/user.slice\n")
	n.process(t, 7002, 25600, 10, "0::/user.slice\n")
	files(t, n.proc, map[string]string{"7003/cgroup": "0::/\n", "7003/environ": "HOME=/root\x00"}) // not the run's
	text := n.scrape(t)
	rss := float64(2 * 25600 * os.Getpagesize())
	wantLines(t, text, `caravan_run_memory_rss_bytes{`+runALabels+`} `+strconv.FormatFloat(rss, 'g', -1, 64), sourceLine("rss", "proc"))
	if strings.Contains(text, "caravan_run_memory_usage_bytes{") {
		t.Error("/proc has no figure for memory charged to a cgroup: it must be absent")
	}
}

// TestRunFiguresAbsentWithoutSource: Nomad's stats are empty and nothing
// else knows the run: no figure is exported, rather than a 0.
func TestRunFiguresAbsentWithoutSource(t *testing.T) {
	n := newRawExecNode(t)
	text := n.scrape(t)
	if !strings.Contains(text, `caravan_run_gpus{`+runALabels+`}`) {
		t.Fatal("the run is not listed")
	}
	for _, absent := range []string{"caravan_run_memory_rss_bytes{", "caravan_run_cpu_cores{", "caravan_run_memory_usage_bytes{",
		"caravan_run_usage_source{", "caravan_run_oom_kills_total{", "caravan_run_network_receive_bytes_total{"} {
		if strings.Contains(text, absent) {
			t.Errorf("scrape has %s without a source", absent)
		}
	}
	s := NewSampler(n.agent, nil, 5*time.Second, time.Minute)
	for range 3 {
		s.Sample(context.Background())
		n.clock.Advance(5 * time.Second)
	}
	u := s.Summaries()[0]
	if u.Timeline.RSS != nil || u.Timeline.CPU != nil || u.Timeline.GPUUtil != nil || u.Timeline.NetRx != nil {
		t.Errorf("timeline %+v: series without a source must be left out", u.Timeline)
	}
	if len(u.Sources) != 0 || u.Has(record.FigureRSS) {
		t.Errorf("sources %v, want none", u.Sources)
	}
}

// TestNomadFiguresWinWhenPresent: Nomad's numbers, when it has them, are
// used as before, and say so.
func TestNomadFiguresWinWhenPresent(t *testing.T) {
	n := newRawExecNode(t)
	n.nomad.stats[allocA] = mkUsage(3<<30, 1<<20, 150)
	files(t, n.cgroupFS, map[string]string{"memory/nomad/" + allocA + ".train/memory.stat": "total_rss 5\n"})
	text := n.scrape(t)
	wantLines(t, text, `caravan_run_memory_rss_bytes{`+runALabels+`} 3.221225472e+09`, `caravan_run_cpu_cores{`+runALabels+`} 1.5`,
		sourceLine("rss", "nomad"), sourceLine("cpu", "nomad"))
}

// TestRunNetworkOnlyInItsOwnNamespace: a run in the host's network has no
// network figure of its own; one with a namespace of its own does.
func TestRunNetworkOnlyInItsOwnNamespace(t *testing.T) {
	for _, tt := range []struct {
		name, ns string
		want     bool
	}{
		{"host network", "net:[4026531840]", false},
		{"own namespace", "net:[4026532000]", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newRawExecNode(t)
			cg := "memory/nomad/" + allocA + ".train/"
			files(t, n.cgroupFS, map[string]string{cg + "cgroup.procs": "4242\n", cg + "memory.stat": "total_rss 1\n"})
			n.process(t, 4242, 1, 1, "4:memory:/nomad/"+allocA+".train\n")
			files(t, n.proc, map[string]string{"4242/net/dev": "Inter-|\n face |\n    lo: 5 5 0 0 0 0 0 0 5 5 0 0 0 0 0 0\n  eth0: 1000 1 0 0 0 0 0 0 2000 2 0 0 0 0 0 0\n"})
			for pid, ns := range map[string]string{"1": "net:[4026531840]", "4242": tt.ns} {
				if err := os.MkdirAll(filepath.Join(n.proc, pid, "ns"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(ns, filepath.Join(n.proc, pid, "ns", "net")); err != nil {
					t.Fatal(err)
				}
			}
			text := n.scrape(t)
			if !tt.want {
				if strings.Contains(text, "caravan_run_network_receive_bytes_total{") {
					t.Error("a run in the host's network namespace got a network figure")
				}
				return
			}
			wantLines(t, text, `caravan_run_network_receive_bytes_total{`+runALabels+`} 1000`,
				`caravan_run_network_transmit_bytes_total{`+runALabels+`} 2000`, sourceLine("network", "netns"))
		})
	}
}
