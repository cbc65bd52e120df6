//go:build e2e

package autoscale_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
)

// The autoscaler's end-to-end suite on GPUs: `caravan autoscale`, the
// built binary, on an operator's pools directory whose pool scales
// terraform/local-pool clients that carry simulated GPUs (the rig's
// nomad-device-sim plugin). Each test works in a Nomad namespace and a
// node pool of its own, and removes them, with every variable, node,
// job and process it made, when it ends. Run: make e2e.

// gpuRig is what the rig exports for extra GPU clients.
type gpuRig struct {
	nomadBin, servers, clientConfig, pluginDir string
}

func needGPURig(t *testing.T) gpuRig {
	t.Helper()
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR is not set: the autoscaler's GPU e2e tests need the rig (make e2e)")
	}
	r := gpuRig{nomadBin: os.Getenv("NOMAD_BIN"), servers: os.Getenv("CARAVAN_E2E_SERVERS"),
		clientConfig: os.Getenv("CARAVAN_E2E_CLIENT_CONFIG"), pluginDir: os.Getenv("RIG_PLUGIN_DIR")}
	if r.pluginDir == "" {
		t.Skip("RIG_PLUGIN_DIR is not set: the GPU e2e tests need the rig's nomad-device-sim plugin (make e2e)")
	}
	if r.nomadBin == "" {
		p, err := exec.LookPath("nomad")
		if err != nil {
			t.Skip("no nomad binary: NOMAD_BIN unset and none on PATH")
		}
		r.nomadBin = p
	}
	if r.servers == "" {
		r.servers = "127.0.0.1:4647"
	}
	needTerraform(t)
	return r
}

// gpuEnv is one test's pool: its pools directory, Terraform state, local
// clients and Nomad namespace, node pool and run.
type gpuEnv struct {
	t                     *testing.T
	ctx                   context.Context
	nc                    *nomad.Client
	bin                   string
	pool, nodePool, ns    string
	pools, state, clients string
	procs                 []*autoscaler
	mu                    sync.Mutex
	seen                  []string // node names the node pool ever had
}

// newGPUEnv prepares a pool of at most one 2-GPU local client; nomadBin
// replaces the rig's nomad for the clients when set.
func newGPUEnv(t *testing.T, limit time.Duration, nomadBin string) *gpuEnv {
	return newGPUEnvWith(t, limit, nomadBin, gpuEnvOpts{maxNodes: 1})
}

// gpuEnvOpts shape the pool: its node counts and client configuration
// added to every client (host volumes, say).
type gpuEnvOpts struct {
	minNodes, maxNodes int
	clientConfig       string
}

func newGPUEnvWith(t *testing.T, limit time.Duration, nomadBin string, o gpuEnvOpts) *gpuEnv {
	r := needGPURig(t)
	ctx, cancel := context.WithDeadline(context.Background(), e2eDeadline(t, limit))
	t.Cleanup(cancel)
	nc, err := nomad.New(nomad.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	e := &gpuEnv{t: t, ctx: ctx, nc: nc, pool: "e2e-" + sfx, nodePool: "caravan-e2e-gpu-" + sfx, ns: "caravan-e2e-" + sfx}
	if nomadBin == "" {
		nomadBin = r.nomadBin
	}
	if _, err := nc.API().Namespaces().Register(&api.Namespace{Name: e.ns, Description: "caravan autoscaler e2e"}, nil); err != nil {
		t.Fatalf("create namespace %s (needs a management token): %v", e.ns, err)
	}
	// Cleanups run last-registered first: the autoscalers stop, then the
	// clients, jobs and nodes go, then the variables, the namespace and
	// the node pool.
	t.Cleanup(e.dropNodePool)
	t.Cleanup(e.dropNamespace)
	t.Cleanup(func() { purgeNodes(t, nc, e.nodePool) })
	e.clients, err = os.MkdirTemp("", "cvg-") // short: unix socket paths under it
	if err != nil {
		t.Fatal(err)
	}
	module, _ := filepath.Abs("../../terraform/local-pool")
	t.Cleanup(func() {
		stopLeftovers(t, module, e.clients)
		if left := agentsUnder(e.clients); len(left) > 0 {
			t.Errorf("cleanup: nomad agents still running under %s: %v", e.clients, left)
		}
		_ = os.RemoveAll(e.clients)
	})
	e.bin = buildCaravan(t)
	e.pools, e.state = t.TempDir(), t.TempDir()
	devs := filepath.Join(t.TempDir(), "devs")
	_ = os.MkdirAll(devs, 0o755)
	for _, g := range []string{"gpu0", "gpu1"} {
		_ = os.WriteFile(filepath.Join(devs, g), nil, 0o644)
	}
	e.writePools(r, module, nomadBin, devs, o)
	return e
}

// writePools writes the operator's pools directory: one pool of at most
// one local client with two simulated GPUs.
func (e *gpuEnv) writePools(r gpuRig, module, nomadBin, devs string, o gpuEnvOpts) {
	var servers []string
	for _, s := range strings.Split(r.servers, ",") {
		servers = append(servers, strconv.Quote(strings.TrimSpace(s)))
	}
	hcl := fmt.Sprintf(`pool %q {
  node_pool     = %q
  gpus_per_node = 2
  min_nodes     = %d
  max_nodes     = %d
  idle_timeout  = "20s"
  boot_timeout  = "3m"
  terraform {
    module = %q
    vars = {
      nomad_bin             = %q
      servers               = [%s]
      plugin_dir            = %q
      state_dir             = %q
      start_timeout_seconds = 60
      extra_config          = <<-EOT
        plugin "raw_exec" {
          config {
            enabled = true
          }
        }
        plugin "nomad-device-sim" {
          config {
            dir         = %q
            list_period = "1s"
          }
        }
        %s
        %s
      EOT
    }
  }
}
`, e.pool, e.nodePool, o.minNodes, o.maxNodes, module, nomadBin, strings.Join(servers, ", "), r.pluginDir, e.clients, devs,
		strings.ReplaceAll(r.clientConfig, "\n", "\n        "), strings.ReplaceAll(o.clientConfig, "\n", "\n        "))
	if err := os.WriteFile(filepath.Join(e.pools, "pools.hcl"), []byte(hcl), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// autoscaler is one `caravan autoscale` process.
type autoscaler struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (a *autoscaler) logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// start runs `caravan autoscale` on the env's pools directory; it is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func (e *gpuEnv) start(extra ...string) *autoscaler {
	a := &autoscaler{log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	args := append([]string{"autoscale", e.pools, "-state-dir", e.state, "-listen", "", "-namespace", e.ns, "-runs-namespace", e.ns, "-resync", "5s"}, extra...)
	a.cmd = exec.Command(e.bin, args...)
	a.cmd.Stdout = lockedWriter{a.mu, a.log}
	a.cmd.Stderr = lockedWriter{a.mu, a.log}
	if err := a.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	e.procs = append(e.procs, a)
	e.t.Cleanup(func() {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(time.Minute):
			_ = a.cmd.Process.Kill()
			<-a.done
			e.t.Errorf("cleanup: caravan autoscale (pid %d) ignored SIGTERM for a minute", a.cmd.Process.Pid)
		}
	})
	return a
}

// poll waits for cond, recording the node pool's node names meanwhile.
func (e *gpuEnv) poll(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		e.watchNodes()
		if cond() {
			return
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("e2e: not within %s: %s\n%s", limit, what, e.describe())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (e *gpuEnv) watchNodes() {
	nodes, err := e.nc.Nodes(e.ctx)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range nodes {
		if n.NodePool == e.nodePool && !slices.Contains(e.seen, n.Name) {
			e.seen = append(e.seen, n.Name)
		}
	}
}

func (e *gpuEnv) nodesSeen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

// record is the pool's record in the env's namespace.
func (e *gpuEnv) record() (autoscale.PoolRecord, bool) {
	r, ok, err := autoscale.LoadPoolRecord(e.ctx, e.nc, e.ns, e.pool)
	return r, ok && err == nil
}

// submitGPURun registers a batch job in the pool's node pool asking for
// one GPU, once the autoscaler has created the node pool.
func (e *gpuEnv) submitGPURun(id string) {
	e.poll("the autoscaler creates the node pool "+e.nodePool, 2*time.Minute, func() bool {
		p, _, err := e.nc.API().NodePools().Info(e.nodePool, nil)
		return err == nil && p != nil
	})
	job := api.NewBatchJob(id, id, "", 50)
	job.Region = nil
	job.NodePool = &e.nodePool
	job.Datacenters = []string{"*"}
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("train", "raw_exec")
	task.Config = map[string]any{"command": "/bin/sh", "args": []string{"-c", "/bin/sleep 3"}}
	task.Resources = &api.Resources{CPU: ptr(100), MemoryMB: ptr(64), Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: ptr(uint64(1))}}}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	e.t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.nc.PurgeJob(cctx, "", id); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			e.t.Errorf("cleanup: purge job %s: %v", id, err)
		}
	})
	if _, err := e.nc.RegisterJob(e.ctx, job, false, 0); err != nil {
		e.t.Fatal(err)
	}
}

// runCompleted reports whether job's allocation completed.
func (e *gpuEnv) runCompleted(job string) bool {
	s, err := e.nc.JobSummary(e.ctx, "", job)
	return err == nil && s.Summary["run"].Complete == 1
}

// scaledToZero: the record says the state is empty, and no agent runs.
func (e *gpuEnv) scaledToZero() bool {
	r, ok := e.record()
	return ok && len(r.InState) == 0 && len(r.Requested) == 0 && len(agentsUnder(e.clients)) == 0
}

func (e *gpuEnv) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  nodes seen in %s: %v\n", e.nodePool, e.nodesSeen())
	if r, ok := e.record(); ok {
		fmt.Fprintf(&b, "  record: holder %s, state %v, requested %v, last %q, terraform %+v\n", r.Holder, r.InState, r.Requested, r.Last.Reason, r.Terraform)
	}
	fmt.Fprintf(&b, "  agents running: %v\n", agentsUnder(e.clients))
	for i, a := range e.procs {
		l := a.logs()
		if len(l) > 6000 {
			l = "..." + l[len(l)-6000:]
		}
		fmt.Fprintf(&b, "  autoscaler %d (pid %d) log:\n%s\n", i, a.cmd.Process.Pid, l)
	}
	logs, _ := filepath.Glob(filepath.Join(e.clients, "*", "nomad.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		fmt.Fprintf(&b, "  %s (last lines):\n    %s\n", l, strings.Join(lines, "\n    "))
	}
	return b.String()
}

// dropNamespace deletes every variable of the env's namespace (records,
// lock, catalogue), then the namespace.
func (e *gpuEnv) dropNamespace() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	metas, err := e.nc.Variables(ctx, e.ns, "")
	if err != nil {
		e.t.Errorf("cleanup: list the variables of %s: %v", e.ns, err)
	}
	for _, m := range metas {
		if err := e.nc.DeleteVariable(ctx, e.ns, m.Path, nomad.NoCAS); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			e.t.Errorf("cleanup: delete %s: %v", m.Path, err)
		}
	}
	if _, err := e.nc.API().Namespaces().Delete(e.ns, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		e.t.Errorf("cleanup: delete namespace %s: %v", e.ns, err)
	}
}

func (e *gpuEnv) dropNodePool() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.nc.API().NodePools().Delete(e.nodePool, (&api.WriteOptions{}).WithContext(ctx)); err != nil && !strings.Contains(err.Error(), "not found") {
		e.t.Errorf("cleanup: delete node pool %s: %v", e.nodePool, err)
	}
}

// agentsUnder lists the pids of nomad agents whose configuration lives
// under dir.
func agentsUnder(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, en := range ents {
		if en.Name()[0] < '0' || en.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "-config="+dir+"/") {
			out = append(out, en.Name())
		}
	}
	return out
}

// binDir holds the caravan binary the GPU tests run; TestMain removes it.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildCaravan builds cmd/caravan once for the package's tests.
func buildCaravan(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "caravan-e2e-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "caravan"), "../../cmd/caravan").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caravan: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "caravan")
}

// leaseHolder is who holds the autoscaler lock in the env's namespace.
func (e *gpuEnv) leaseHolder() string {
	v, err := e.nc.Variable(e.ctx, e.ns, autoscale.LeaseVariable)
	if err != nil {
		return ""
	}
	return v.Items["holder"]
}
