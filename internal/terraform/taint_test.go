package terraform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	"github.com/zclconf/go-cty/cty"
)

// TestDroppedTaintedNameRunsItsDestroySteps: a machine whose creation
// failed half way is tainted in the state, and Terraform skips the
// destroy-time provisioners of tainted resources. When its name leaves
// the set, the module's destroy steps (local-pool stops its agent there)
// must run all the same, or a process or instance outlives the state.
func TestDroppedTaintedNameRunsItsDestroySteps(t *testing.T) {
	needTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	failFile, logFile := filepath.Join(dir, "fail"), filepath.Join(dir, "log")
	if err := os.WriteFile(failFile, []byte("start timed out"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newTestWorkspace(t, dir, map[string]cty.Value{"fail_file": cty.StringVal(failFile), "log_file": cty.StringVal(logFile)}, &syncbuf.Buffer{})
	if _, err := w.Apply(ctx, []string{"gpu-1"}); err == nil {
		t.Fatal("the creation did not fail; the test proves nothing")
	}
	os.Remove(failFile)
	if _, err := w.Apply(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "destroy gpu-1") {
		t.Fatalf("gpu-1 left the state without its destroy steps (log: %q)", b)
	}
}

// TestLocalPoolStartFailureLeavesNoProcess: a client whose start times
// out is stopped by the start script itself; Terraform marks it tainted
// and would never run the stop script for it.
func TestLocalPoolStartFailureLeavesNoProcess(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("local-pool scripts need bash")
	}
	dir := t.TempDir()
	// A nomad that runs but never listens: the start times out.
	fake := filepath.Join(dir, "fake-nomad")
	if err := os.WriteFile(fake, []byte("#!/usr/bin/env bash\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(dir, "local-a")
	cmd := exec.Command("../../terraform/local-pool/scripts/start.sh")
	cmd.Env = append(os.Environ(), "NODE_NAME=local-a", "NODE_DIR="+nodeDir, "STATE_DIR="+dir, "NOMAD_BIN="+fake,
		"SERVERS=127.0.0.1:1", "NODE_POOL=gpu", "START_TIMEOUT=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("start did not fail:\n%s", out)
	}
	if pids := processesWith(t, "-config="+nodeDir+"/client.hcl"); len(pids) > 0 {
		t.Errorf("the client whose start timed out still runs (pids %v):\n%s", pids, out)
		stop := exec.Command("../../terraform/local-pool/scripts/stop.sh")
		stop.Env = append(os.Environ(), "NODE_NAME=local-a", "NODE_DIR="+nodeDir)
		_ = stop.Run()
	}
	if !strings.Contains(string(out), "did not answer") {
		t.Errorf("start's error does not say why:\n%s", out)
	}
}

// processesWith lists the pids whose command line contains s.
func processesWith(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			out = append(out, e.Name())
		}
	}
	return out
}
