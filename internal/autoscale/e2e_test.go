//go:build e2e

package autoscale_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// TestE2ELocalPool runs the integration flow against a real Nomad with
// terraform/local-pool: a queued run makes a real Nomad client start on
// this host, the run is placed on it and completes, and after the idle
// timeout the client is drained, stopped and its name leaves the state.
//
// Needs NOMAD_ADDR (a server whose RPC port is reachable at
// CARAVAN_E2E_SERVERS, default 127.0.0.1:4647), a nomad binary (NOMAD_BIN
// or nomad on PATH) and terraform. Run: make e2e.
func TestE2ELocalPool(t *testing.T) {
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("e2e: NOMAD_ADDR is not set (start `nomad agent -dev` and export NOMAD_ADDR=http://127.0.0.1:4646)")
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
	servers := os.Getenv("CARAVAN_E2E_SERVERS")
	if servers == "" {
		servers = "127.0.0.1:4647"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	nc, err := nomad.New(nomad.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	nodePool := "caravan-e2e-" + suffix
	if _, err := nc.API().NodePools().Register(&api.NodePool{Name: nodePool, Description: "caravan e2e"}, nil); err != nil {
		t.Fatalf("create node pool %s: %v", nodePool, err)
	}
	t.Cleanup(func() { _, _ = nc.API().NodePools().Delete(nodePool, nil) })

	var svs []cty.Value
	for _, s := range strings.Split(servers, ",") {
		svs = append(svs, cty.StringVal(strings.TrimSpace(s)))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ws, err := terraform.New(terraform.Options{
		Pool: "e2e", Module: "../../terraform/local-pool", StateDir: t.TempDir(), Logger: log,
		Vars: map[string]cty.Value{
			"nomad_bin":    cty.StringVal(nomadBin),
			"servers":      cty.TupleVal(svs),
			"node_pool":    cty.StringVal(nodePool),
			"extra_config": cty.StringVal(`plugin "raw_exec" { config { enabled = true } }`),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := ws.Apply(context.Background(), nil); err != nil {
			t.Errorf("cleanup: stop the local clients: %v", err)
		}
	})
	pool := &spec.Pool{Name: "e2e", NodePool: nodePool, Declared: true, GPU: "nvidia/gpu", GPUsPerNode: 0,
		CPUPerNode: 1000, MemoryPerNode: 1 << 30, MaxNodes: 1, IdleTimeout: 20 * time.Second, BootTimeout: 3 * time.Minute}
	policy := autoscale.IdleTimeoutPolicy()
	loop, err := autoscale.NewLoop(autoscale.Config{
		Pools: map[string]*spec.Pool{"e2e": pool}, Provisioners: map[string]autoscale.Provisioner{"e2e": ws},
		Nomad: nc, Events: nc, Policy: &policy, Resync: 5 * time.Second, BackoffMin: 2 * time.Second,
		Logger: log, Holder: "e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = loop.Run(runCtx) }()
	defer func() { stop(); <-done }()

	jobID := "caravan-e2e-" + suffix
	job := api.NewBatchJob(jobID, jobID, "global", 50)
	job.NodePool = &nodePool
	job.Datacenters = []string{"*"}
	tg := api.NewTaskGroup("run", 1)
	task := api.NewTask("work", "raw_exec")
	task.Config = map[string]any{"command": "/bin/sh", "args": []string{"-c", "sleep 3"}}
	task.Resources = &api.Resources{CPU: ptr(100), MemoryMB: ptr(64)}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	if _, err := nc.RegisterJob(ctx, job, false, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _, _ = nc.API().Jobs().Deregister(jobID, true, nil) })

	poll := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("e2e: timed out waiting until %s", what)
			}
			time.Sleep(time.Second)
		}
	}
	var name string
	poll("the state gains a node", 2*time.Minute, func() bool {
		n, _ := ws.Nodes(ctx)
		if len(n) == 1 {
			name = n[0]
		}
		return name != ""
	})
	poll("the run completes on "+name, 3*time.Minute, func() bool {
		s, err := nc.JobSummary(ctx, "", jobID)
		return err == nil && s.Summary["run"].Complete == 1
	})
	poll("the idle node leaves the state", 3*time.Minute, func() bool {
		n, _ := ws.Nodes(ctx)
		return len(n) == 0
	})
}
