//go:build cgo && linux

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/gpu/nvmlmock"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/testutil/cputime"
)

// benchNode is the reference node: 8 GPUs, 16 GPU processes (two
// per GPU), 8 runs each holding one GPU, with a /proc tree to match, each
// run's cgroup v2 scope (read for OOM kills and peak memory even when
// Nomad has the rest), and each run's metrics file, a few lines long.
func benchNode(b *testing.B) *testNode {
	b.Helper()
	root := b.TempDir()
	cgroups, allocDir := filepath.Join(root, "cgroup"), filepath.Join(root, "alloc")
	must(b, os.MkdirAll(cgroups, 0o755))
	must(b, os.WriteFile(filepath.Join(cgroups, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644))
	fn := &fakeNomad{allocs: map[string]*api.Allocation{}, stats: map[string]*api.AllocResourceUsage{}, calls: map[string]int{}}
	for g := range 8 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", g)
		fn.allocs[id] = mkAlloc(id, fmt.Sprintf("exp%d-0000000%d", g, g), fmt.Sprintf("exp%d", g), []string{nvmlmock.UUID(g)})
		fn.stats[id] = mkUsage(uint64(g+1)<<30, 1<<28, 150)
		scope := filepath.Join(cgroups, "nomad.slice", "share.slice", id+".train.scope")
		must(b, os.MkdirAll(scope, 0o755))
		for name, content := range map[string]string{
			"memory.current": "1342177280\n", "memory.peak": "1610612736\n",
			"memory.stat":   "anon 1073741824\nfile 268435456\nkernel 1048576\nshmem 0\nfile_mapped 0\n",
			"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
			"cpu.stat":      "usage_usec 123456789\nuser_usec 100000000\nsystem_usec 23456789\n",
			"cgroup.procs":  fmt.Sprintf("%d\n%d\n", 1000+g*2, 1001+g*2),
		} {
			must(b, os.WriteFile(filepath.Join(scope, name), []byte(content), 0o644))
		}
		metrics := filepath.Join(allocDir, id, "alloc")
		must(b, os.MkdirAll(metrics, 0o755))
		must(b, os.WriteFile(filepath.Join(metrics, record.MetricsFile),
			[]byte(`{"step": 1, "loss": 2.5, "lr": 0.001}`+"\n"+`{"step": 2, "loss": 2.25, "lr": 0.001}`+"\n"), 0o644))
		for j := range 2 {
			pid := 1000 + g*2 + j
			dir := filepath.Join(root, strconv.Itoa(pid))
			must(b, os.MkdirAll(dir, 0o755))
			must(b, os.WriteFile(filepath.Join(dir, "comm"), []byte("python\n"), 0o644))
			must(b, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/nomad.slice/share.slice/"+id+".train.scope\n"), 0o644))
		}
	}
	must(b, os.MkdirAll(filepath.Join(root, "net"), 0o755))
	netdev, err := os.ReadFile("testdata/proc/net/dev")
	must(b, err)
	must(b, os.WriteFile(filepath.Join(root, "net", "dev"), netdev, 0o644))

	m := nvmlmock.New(nvmlmock.Options{GPUs: 8, ProcsPerGPU: 2})
	n, err := gpu.OpenLib(m)
	must(b, err)
	clk := newClock()
	a := New(Config{Node: "gpu-node-1", NodeID: nodeID, Pool: "h100", ProcRoot: root, CgroupRoot: cgroups, AllocDir: allocDir,
		GPU: gpu.NewReader(n, time.Second), Nomad: fn, Now: clk.Now})
	return &testNode{agent: a, mock: m, nomad: fn, clock: clk}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScrape is one full /metrics request (collect, encode) on the
// reference node; cpu-ns/op is the CPU time it costs, all threads counted.
func BenchmarkScrape(b *testing.B) {
	tn := benchNode(b)
	h := Handler(agentRegistry(b, NewCollector(tn.agent)), tn.agent.cfg.Logger)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	// One scrape first, so the check below can fail if the bench measures
	// an empty node.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if n := strings.Count(w.Body.String(), "caravan_run_gpu_utilization_ratio{"); n != 8 {
		b.Fatalf("reference node exports %d run GPU series, want 8", n)
	}
	if n := strings.Count(w.Body.String(), `caravan_run_metric{`); n != 16 {
		b.Fatalf("reference node exports %d run metric series, want 16 (loss and lr of 8 runs)", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cputime.Process()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64((cputime.Process()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	// Memory after the scrapes: the live Go heap, and the test process's
	// resident set (an upper bound on the agent's: the test binary also
	// holds the testing framework and the NVML mock's call records).
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(vmRSS()/(1<<20), "rss-MiB")
}

// BenchmarkSample is one sampler tick on the reference node; core-%@5s is
// its CPU time as a share of one core at the default 5 s interval.
func BenchmarkSample(b *testing.B) {
	tn := benchNode(b)
	s := NewSampler(tn.agent, nil, 5*time.Second, time.Minute)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := cputime.Process()
	for b.Loop() {
		s.Sample(ctx)
		tn.clock.Advance(5 * time.Second)
	}
	perOp := float64((cputime.Process() - start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(perOp/5e9*100, "core-%@5s")
	if len(s.Summaries()) != 8 {
		b.Fatalf("%d runs summarised, want 8", len(s.Summaries()))
	}
}

func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}

// jsonStore encodes each summary as the Nomad client would, and drops it.
type jsonStore struct{ bytes int }

func (j *jsonStore) PutUsage(_ context.Context, _ string, u *record.Usage) error {
	b, err := json.Marshal(u)
	j.bytes = len(b)
	return err
}

// BenchmarkUsageFlush is the sampler's minute write on the reference node
// once every run's timeline is full (512 points): eight summaries built
// and JSON-encoded. core-%@1m is its CPU share at one flush a minute.
func BenchmarkUsageFlush(b *testing.B) {
	tn := benchNode(b)
	store := &jsonStore{}
	s := NewSampler(tn.agent, store, 5*time.Second, time.Minute)
	ctx := context.Background()
	for range 2 * record.MaxTimelinePoints {
		s.Sample(ctx)
		tn.clock.Advance(5 * time.Second)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cputime.Process()
	for b.Loop() {
		for _, id := range s.runIDs() {
			s.flush(ctx, s.runs[id], false)
		}
	}
	perOp := float64((cputime.Process() - start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(perOp/60e9*100, "core-%@1m")
	b.ReportMetric(float64(store.bytes), "summary-bytes")
}
