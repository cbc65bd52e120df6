//go:build e2e

package autoscale_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// TestE2ELocalPool runs the integration flow against a real Nomad with
// terraform/local-pool: a queued run makes a real Nomad client start on
// this host, the run is placed on it and completes, and after the idle
// timeout the client is drained, stopped and its name leaves the state.
// At the end it stops every client it started (through Terraform, and by
// the module's stop script for any Terraform left behind), purges the job
// and the nodes from Nomad, deletes the node pool and the autoscaler's
// records of its pool.
//
// Needs NOMAD_ADDR (a server whose RPC port is reachable at
// CARAVAN_E2E_SERVERS, default 127.0.0.1:4647), a nomad binary (NOMAD_BIN
// or nomad on PATH) and terraform; CARAVAN_E2E_CLIENT_CONFIG is HCL added
// to the client's agent configuration (e.g. a tls block). Run: make e2e.
func TestE2ELocalPool(t *testing.T) {
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR is not set: the autoscaler e2e test needs a real Nomad server, a nomad binary and terraform")
	}
	nomadBin := os.Getenv("NOMAD_BIN")
	if nomadBin == "" {
		p, err := exec.LookPath("nomad")
		if err != nil {
			t.Skip("e2e: no nomad binary on PATH and NOMAD_BIN unset")
		}
		nomadBin = p
	}
	needTerraform(t)
	module, err := filepath.Abs("../../terraform/local-pool")
	if err != nil {
		t.Fatal(err)
	}
	servers := os.Getenv("CARAVAN_E2E_SERVERS")
	if servers == "" {
		servers = "127.0.0.1:4647"
	}
	// Boot (terraform init+apply, agent start, registration), the run,
	// idle_timeout, drain and removal: minutes, but never past the test
	// binary's -timeout, whose panic would skip every cleanup below.
	ctx, cancel := context.WithDeadline(context.Background(), e2eDeadline(t, 12*time.Minute))
	defer cancel()
	nc, err := nomad.New(nomad.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	// Unique per run: the pool's records in Variables and the node pool
	// must not meet those of another run on a shared cluster.
	poolName := "e2e-" + suffix
	nodePool := "caravan-e2e-" + suffix
	if _, err := nc.API().NodePools().Register(&api.NodePool{Name: nodePool, Description: "caravan e2e"}, nil); err != nil {
		t.Fatalf("create node pool %s (needs a management token): %v", nodePool, err)
	}
	// Cleanups run last-registered first: job, Terraform, leftover agents,
	// Nomad's node entries, records, and the node pool last (Nomad refuses
	// to delete a pool that still has nodes, down ones included).
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if _, err := nc.API().NodePools().Delete(nodePool, (&api.WriteOptions{}).WithContext(cctx)); err != nil {
			t.Errorf("cleanup: delete node pool %s: %v", nodePool, err)
		}
	})
	t.Cleanup(func() { deleteRecords(t, nc, poolName) })
	t.Cleanup(func() { purgeNodes(t, nc, nodePool) })

	// The clients' directories: short, since a task's API socket lives
	// under data_dir and unix socket paths are limited to 108 bytes.
	clients, err := os.MkdirTemp("", "cvn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopLeftovers(t, module, clients)
		if err := os.RemoveAll(clients); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	var svs []cty.Value
	for _, s := range strings.Split(servers, ",") {
		svs = append(svs, cty.StringVal(strings.TrimSpace(s)))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ws, err := terraform.New(terraform.Options{
		Pool: poolName, Module: module, StateDir: t.TempDir(), Logger: log,
		Vars: map[string]cty.Value{
			"nomad_bin": cty.StringVal(nomadBin),
			"servers":   cty.TupleVal(svs),
			"node_pool": cty.StringVal(nodePool),
			"state_dir": cty.StringVal(clients),
			// CARAVAN_E2E_CLIENT_CONFIG adds what a real cluster's clients
			// need to join it (a tls block for mTLS RPC, a datacenter).
			"extra_config": cty.StringVal("plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n" + os.Getenv("CARAVAN_E2E_CLIENT_CONFIG")),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer ccancel()
		if _, err := ws.Apply(cctx, nil); err != nil {
			t.Errorf("cleanup: stop the local clients through terraform: %v", err)
		}
	})
	pool := &spec.Pool{Name: poolName, NodePool: nodePool, Declared: true, GPU: "nvidia/gpu", GPUsPerNode: 0,
		CPUPerNode: 1000, MemoryPerNode: 1 << 30, MaxNodes: 1, IdleTimeout: 20 * time.Second, BootTimeout: 3 * time.Minute}
	policy := decide.IdleTimeoutPolicy()
	loop, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{poolName: pool}, Provisioners: map[string]autoscale.Provisioner{poolName: ws},
		Nomad: nc, Events: nc, Policy: &policy, Resync: 5 * time.Second, BackoffMin: 2 * time.Second,
		Logger: log, Holder: "e2e-" + suffix,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = loop.Run(runCtx) }()
	// Deferred calls run before the cleanups: the loop is stopped before
	// Terraform removes the clients, so it cannot add one back.
	defer func() { stop(); <-done }()

	jobID := "caravan-e2e-" + suffix
	job := api.NewBatchJob(jobID, jobID, "", 50)
	job.Region = nil // the cluster's own region
	job.NodePool = &nodePool
	job.Datacenters = []string{"*"}
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("work", "raw_exec")
	// raw_exec runs no shell of its own: sh -c, absolute paths.
	task.Config = map[string]any{"command": "/bin/sh", "args": []string{"-c", "/bin/sleep 3"}}
	task.Resources = &api.Resources{CPU: ptr(100), MemoryMB: ptr(64)}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := nc.PurgeJob(cctx, "", jobID); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("cleanup: purge job %s: %v", jobID, err)
		}
	})
	if _, err := nc.RegisterJob(ctx, job, false, 0); err != nil {
		t.Fatal(err)
	}

	poll := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) || ctx.Err() != nil {
				why := fmt.Sprintf("not within %s", limit)
				if ctx.Err() != nil {
					why = "not before the test's deadline (raise go test -timeout)"
				}
				t.Fatalf("e2e: %s: %s\n%s", why, what, describe(nc, jobID, nodePool, clients))
			}
			time.Sleep(time.Second)
		}
	}
	var name string
	poll("the Terraform state gains a node", 3*time.Minute, func() bool {
		n, _ := ws.Nodes(ctx)
		if len(n) == 1 {
			name = n[0]
		}
		return name != ""
	})
	poll("the run completes on "+name, 4*time.Minute, func() bool {
		s, err := nc.JobSummary(ctx, "", jobID)
		return err == nil && s.Summary["run"].Complete == 1
	})
	poll("the idle node "+name+" leaves the Terraform state", 4*time.Minute, func() bool {
		n, err := ws.Nodes(ctx)
		return err == nil && len(n) == 0
	})
	// Removal must have stopped the agent, not only forgotten it.
	if _, err := os.Stat(filepath.Join(clients, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("client %s removed from the state but its directory remains (agent still running?): %v", name, err)
	}
}

// e2eDeadline is now+limit, cut short to leave two minutes of the test
// binary's -timeout for the cleanups.
func e2eDeadline(t *testing.T, limit time.Duration) time.Time {
	d := time.Now().Add(limit)
	if td, ok := t.Deadline(); ok && td.Add(-2*time.Minute).Before(d) {
		d = td.Add(-2 * time.Minute)
	}
	return d
}

// describe says where the flow stands, for a failure message: the job's
// summary, evaluations and allocations, the local clients, the nodes of
// the pool, and the end of each local client's log.
func describe(nc *nomad.Client, jobID, nodePool, clients string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	if s, err := nc.JobSummary(ctx, "", jobID); err == nil {
		fmt.Fprintf(&b, "  job summary: %+v\n", s.Summary["run"])
	}
	if evs, err := nc.JobEvaluations(ctx, "", jobID); err == nil {
		for _, e := range evs {
			fmt.Fprintf(&b, "  eval %.8s: %s %s %s", e.ID, e.TriggeredBy, e.Status, e.StatusDescription)
			for tg, m := range e.FailedTGAllocs {
				fmt.Fprintf(&b, " failed[%s]: pool=%s in-pool=%d filtered=%v exhausted=%v", tg, m.NodePool, m.NodesInPool, m.ConstraintFiltered, m.DimensionExhausted)
			}
			b.WriteString("\n")
		}
	}
	if as, err := nc.JobAllocations(ctx, "", jobID); err == nil {
		for _, a := range as {
			fmt.Fprintf(&b, "  alloc %.8s on %s: desired=%s client=%s\n", a.ID, a.NodeName, a.DesiredStatus, a.ClientStatus)
		}
	}
	// Not ws.Nodes: it waits for a running apply, which is what may hang.
	dirs, _ := filepath.Glob(filepath.Join(clients, "*", "client.hcl"))
	fmt.Fprintf(&b, "  local clients started: %v\n", dirs)
	if nodes, err := nc.Nodes(ctx); err == nil {
		for _, nd := range nodes {
			if nd.NodePool == nodePool {
				fmt.Fprintf(&b, "  nomad node %s: status=%s eligibility=%s drain=%v\n", nd.Name, nd.Status, nd.SchedulingEligibility, nd.Drain)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(clients, "*", "nomad.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "  %s (last lines):\n    %s\n", l, strings.Join(lines, "\n    "))
	}
	return b.String()
}

// stopLeftovers runs the module's stop script for every client directory
// still present (Terraform failed or was interrupted), so no agent
// outlives the test.
func stopLeftovers(t *testing.T, module, clients string) {
	dirs, _ := filepath.Glob(filepath.Join(clients, "*", "client.hcl"))
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, filepath.Join(module, "scripts", "stop.sh"))
		cmd.Env = append(os.Environ(), "NODE_NAME="+filepath.Base(dir), "NODE_DIR="+dir)
		out, err := cmd.CombinedOutput()
		cancel()
		t.Logf("cleanup: stopped leftover client %s: %s", dir, out)
		if err != nil {
			t.Errorf("cleanup: stop leftover client %s: %v", dir, err)
		}
	}
}

// purgeNodes removes the pool's nodes from Nomad once their agents are
// gone: a stopped client stays listed (down) until node GC, and blocks the
// node pool's deletion until then.
func purgeNodes(t *testing.T, nc *nomad.Client, nodePool string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := nc.Nodes(ctx)
	if err != nil {
		t.Errorf("cleanup: list nodes: %v", err)
		return
	}
	for _, n := range nodes {
		if n.NodePool != nodePool {
			continue
		}
		if _, _, err := nc.API().Nodes().Purge(n.ID, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
			t.Errorf("cleanup: purge node %s: %v", n.Name, err)
		}
	}
}

// deleteRecords deletes the variables the autoscaler kept for pool.
func deleteRecords(t *testing.T, nc *nomad.Client, pool string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, prefix := range []string{autoscale.PoolRecordPrefix + pool, autoscale.CostRecordPrefix + pool + "/"} {
		metas, err := nc.Variables(ctx, "", prefix)
		if err != nil {
			t.Errorf("cleanup: list %s: %v", prefix, err)
			continue
		}
		for _, m := range metas {
			// The pool record's prefix would also match pool names that
			// merely start with this one.
			if m.Path != autoscale.PoolRecordPrefix+pool && !strings.HasPrefix(m.Path, autoscale.CostRecordPrefix+pool+"/") {
				continue
			}
			if err := nc.DeleteVariable(ctx, m.Namespace, m.Path, nomad.NoCAS); err != nil && !errors.Is(err, nomad.ErrNotFound) {
				t.Errorf("cleanup: delete %s: %v", m.Path, err)
			}
		}
	}
}
