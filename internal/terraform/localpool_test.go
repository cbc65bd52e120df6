package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestLocalPoolModule applies terraform/local-pool for real with a stand-in
// for the nomad binary (a shell loop): each name gets a running process and
// a client configuration with its own ports, and a name leaving the set
// stops its process and removes its directory.
func TestLocalPoolModule(t *testing.T) {
	needTerraform(t)
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("local-pool scripts need bash")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-nomad")
	if err := os.WriteFile(fake, []byte("#!/usr/bin/env bash\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	clients := filepath.Join(dir, "clients")
	w, err := New(Options{
		Pool:     "local",
		Module:   "../../terraform/local-pool",
		StateDir: filepath.Join(dir, "state"),
		Vars: map[string]cty.Value{
			"nomad_bin":             cty.StringVal(fake),
			"node_pool":             cty.StringVal("gpu"),
			"servers":               cty.TupleVal([]cty.Value{cty.StringVal("127.0.0.1:4647"), cty.StringVal("127.0.0.1:5647")}),
			"state_dir":             cty.StringVal(clients),
			"extra_config":          cty.StringVal(`plugin "raw_exec" { config { enabled = true } }`),
			"start_timeout_seconds": cty.NumberIntVal(0),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _, _ = w.Apply(context.Background(), nil) })
	if _, err := w.Apply(ctx, []string{"local-a", "local-b"}); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	ports := map[string]bool{}
	for _, n := range []string{"local-a", "local-b"} {
		cfg, err := os.ReadFile(filepath.Join(clients, n, "client.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`name      = "` + n + `"`, `node_pool = "gpu"`, `"127.0.0.1:4647", "127.0.0.1:5647"`, `bind_addr = "127.0.0.1"`, `plugin "raw_exec"`} {
			if !strings.Contains(string(cfg), want) {
				t.Errorf("%s client.hcl lacks %q:\n%s", n, want, cfg)
			}
		}
		pb, _ := os.ReadFile(filepath.Join(clients, n, "ports"))
		for _, p := range strings.Fields(string(pb)) {
			if ports[p] {
				t.Errorf("port %s given twice", p)
			}
			ports[p] = true
		}
		b, _ := os.ReadFile(filepath.Join(clients, n, "pid"))
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) != nil {
			t.Fatalf("%s: no running process (pid file %q)", n, b)
		}
		pids[n] = pid
	}
	if len(ports) != 6 {
		t.Errorf("want 6 distinct ports, got %v", ports)
	}
	if _, err := w.Apply(ctx, []string{"local-b"}); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(pids["local-a"], 0) == nil {
		// A zombie child of ours would still answer; this one is not ours.
		t.Errorf("local-a (pid %d) still running after its name left nodes", pids["local-a"])
	}
	if _, err := os.Stat(filepath.Join(clients, "local-a")); !os.IsNotExist(err) {
		t.Errorf("local-a's directory was not removed: %v", err)
	}
	if syscall.Kill(pids["local-b"], 0) != nil {
		t.Errorf("local-b stopped though it stays in nodes")
	}
}
