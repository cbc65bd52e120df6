package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
)

// Benchmarks against a real Nomad: `make bench` runs them on the loopback
// rig that .ci/with-rig starts (or the Nomad at NOMAD_ADDR); without one
// they skip. Each works in a namespace of its own, removed at the end. The
// figures are in docs/performance.md.

// rigBench is a namespace of the real Nomad for one benchmark.
type rigBench struct {
	tb  testing.TB
	ns  string
	cl  *nomad.Client
	env []string
}

func newRigBench(tb testing.TB) *rigBench {
	tb.Helper()
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		tb.Skip("NOMAD_ADDR is not set: this benchmark measures a real Nomad (make bench starts one)")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := "bench" + hex.EncodeToString(b)
	cl, err := nomad.New(nomad.Config{Address: addr, Namespace: ns, Timeout: 5 * time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := cl.API().Namespaces().Register(&api.Namespace{Name: ns}, nil); err != nil {
		tb.Fatalf("create namespace %s: %v", ns, err)
	}
	r := &rigBench{tb: tb, ns: ns, cl: cl, env: []string{"NOMAD_ADDR=" + addr, "NOMAD_NAMESPACE=" + ns, "CARAVAN_PROJECT=bench"}}
	tb.Cleanup(r.cleanup)
	return r
}

// cleanup purges the namespace's jobs and variables, then the namespace.
func (r *rigBench) cleanup() {
	ctx := context.Background()
	jobs, _ := r.cl.Jobs(ctx, r.ns)
	purge := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range purge {
				_ = r.cl.PurgeJob(ctx, r.ns, id)
			}
		})
	}
	for _, j := range jobs {
		purge <- j.ID
	}
	close(purge)
	wg.Wait()
	vars, _ := r.cl.Variables(ctx, r.ns, "")
	for _, v := range vars {
		_ = r.cl.DeleteVariable(ctx, v.Namespace, v.Path, nomad.NoCAS)
	}
	if _, err := r.cl.API().Namespaces().Delete(r.ns, nil); err != nil {
		r.tb.Logf("cleanup: delete namespace %s: %v", r.ns, err)
	}
}

// sweep writes a directory of one experiment of n runs (a multiple of 100)
// that Nomad queues
// (node pool "bench", which has no node: nothing runs, nothing is placed,
// and the figures are the control plane's alone).
func (r *rigBench) sweep(n int) string {
	r.tb.Helper()
	if err := r.cl.EnsureNodePool(context.Background(), "bench", "caravan benchmarks: no nodes"); err != nil {
		r.tb.Fatal(err)
	}
	dir := r.tb.TempDir()
	hcl := fmt.Sprintf(`caravan {
  project = "bench"
}

experiment "sweep" {
  pool      = "bench"
  namespace = %q
  driver    = "exec"
  command   = "/bin/true"
  args      = ["--i", param.i, "--j", param.j]
  sweep {
    # range makes at most 1,024 values: two params give n runs.
    grid = { i = range(100), j = range(%d) }
  }
  resources {
    gpus   = 1
    cpu    = 100
    memory = "64MiB"
  }
}
`, r.ns, n/100)
	if err := os.WriteFile(dir+"/sweep.hcl", []byte(hcl), 0o644); err != nil {
		r.tb.Fatal(err)
	}
	return dir
}

// BenchmarkRigApply1000 is `caravan apply` of 1,000 new runs beside a
// serial api.Jobs().Register loop over the same jobs, on the same Nomad in
// the same run; x-loop is apply's time over the loop's (issue target: at
// most 1.2).
func BenchmarkRigApply1000(b *testing.B) {
	r := newRigBench(b)
	dir := r.sweep(1000)
	jobs := renderedJobs(b, dir)
	var applyT, loopT time.Duration
	for i := 0; b.Loop(); i++ {
		// Each side gets a namespace of its own, emptied between rounds,
		// so both register into an empty namespace.
		r.cleanupJobs()
		start := time.Now()
		res := execBench(b, r.env, "apply", dir)
		applyT += time.Since(start)
		if !strings.Contains(res.stdout, "1000 registered") {
			b.Fatalf("apply: %s", tail(res.stdout))
		}
		r.cleanupJobs()
		start = time.Now()
		for _, j := range jobs {
			if _, _, err := r.cl.API().Jobs().Register(j, &api.WriteOptions{Namespace: r.ns}); err != nil {
				b.Fatal(err)
			}
		}
		loopT += time.Since(start)
	}
	b.ReportMetric(applyT.Seconds()/float64(b.N), "apply-s")
	b.ReportMetric(loopT.Seconds()/float64(b.N), "loop-s")
	b.ReportMetric(float64(applyT)/float64(loopT), "x-loop")
}

// cleanupJobs purges the namespace's jobs, keeping the namespace.
func (r *rigBench) cleanupJobs() {
	ctx := context.Background()
	jobs, err := r.cl.Jobs(ctx, r.ns)
	if err != nil {
		r.tb.Fatal(err)
	}
	purge := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range purge {
				if err := r.cl.PurgeJob(ctx, r.ns, id); err != nil {
					r.tb.Error(err)
				}
			}
		})
	}
	for _, j := range jobs {
		purge <- j.ID
	}
	close(purge)
	wg.Wait()
}

// BenchmarkRigRead is ls, status, plan and cost of a project whose 1,000
// or 10,000 runs are in Nomad (jobs plus records). Beside the time it
// reports, per command, how many HTTP requests it made and how many
// connections it held at once, through a counting proxy (run once, apart
// from the timed loop).
func BenchmarkRigRead(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			r := newRigBench(b)
			dir := r.sweep(n)
			execBench(b, r.env, "apply", dir)
			if _, err := controller.New(controller.Config{Nomad: r.cl, Namespace: r.ns}).Resync(context.Background()); err != nil {
				b.Fatal(err)
			}
			refs, err := r.cl.RecordRefs(context.Background(), r.ns, nomad.RecordScope{Project: "bench"})
			if err != nil || len(refs) != n {
				b.Fatalf("%d records of %d runs (%v)", len(refs), n, err)
			}
			cmds := map[string][]string{
				"ls": {"ls", "-json"}, "status": {"status"}, "plan": {"plan", dir}, "cost": {"cost", "-json"},
			}
			for _, name := range []string{"ls", "status", "plan", "cost"} {
				args := cmds[name]
				b.Run(name, func(b *testing.B) {
					reqs, peak := countRequests(b, r.env, args)
					for b.Loop() {
						execBench(b, r.env, args...)
					}
					b.ReportMetric(float64(reqs), "requests")
					b.ReportMetric(float64(peak), "peak-conns")
				})
			}
		})
	}
}

// countRequests runs one command through a proxy in front of Nomad that
// counts its requests and the connections it holds at once.
func countRequests(tb testing.TB, env []string, args []string) (requests, peak int64) {
	tb.Helper()
	var addr string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NOMAD_ADDR="); ok {
			addr = v
		}
	}
	target, err := url.Parse(addr)
	if err != nil {
		tb.Fatal(err)
	}
	var reqs, open, maxOpen atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			reqs.Add(1)
			proxy.ServeHTTP(w, req)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				n := open.Add(1)
				for m := maxOpen.Load(); n > m && !maxOpen.CompareAndSwap(m, n); m = maxOpen.Load() {
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	proxied := append([]string{}, env...)
	for i, kv := range proxied {
		if strings.HasPrefix(kv, "NOMAD_ADDR=") {
			proxied[i] = "NOMAD_ADDR=http://" + ln.Addr().String()
		}
	}
	execBench(tb, proxied, args...)
	return reqs.Load(), maxOpen.Load()
}
