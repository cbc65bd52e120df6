package terraform

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	"github.com/zclconf/go-cty/cty"
)

// testPoolModule is the repository's test-only pool module.
const testPoolModule = "../../terraform/test-pool"

// needTerraform skips when no terraform binary exists (CI installs one).
func needTerraform(t *testing.T) {
	t.Helper()
	if _, err := FindBinary(""); err != nil {
		t.Skipf("real Terraform test: %v", err)
	}
}

func newTestWorkspace(t *testing.T, stateDir string, vars map[string]cty.Value, logs *syncbuf.Buffer) *Workspace {
	t.Helper()
	w, err := New(Options{
		Pool:     "gpu",
		Module:   testPoolModule,
		Vars:     vars,
		StateDir: stateDir,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWorkspaceApply drives real Terraform through one workdir: grow,
// shrink, no-op, a failing creation and a restart that must not init again.
func TestWorkspaceApply(t *testing.T) {
	needTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	failFile := filepath.Join(dir, "fail")
	logs := &syncbuf.Buffer{}
	w := newTestWorkspace(t, dir, map[string]cty.Value{"fail_file": cty.StringVal(failFile)}, logs)

	if got, err := w.Nodes(ctx); err != nil || len(got) != 0 {
		t.Fatalf("fresh workdir: nodes %v, err %v", got, err)
	}
	res, err := w.Apply(ctx, []string{"gpu-1", "gpu-0"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || strings.Join(res.Nodes, ",") != "gpu-0,gpu-1" {
		t.Fatalf("grow: %+v", res)
	}
	if !strings.Contains(logs.String(), "Apply complete!") {
		t.Errorf("terraform output not logged:\n%s", logs.String())
	}
	res, err = w.Apply(ctx, []string{"gpu-0", "gpu-1"})
	if err != nil || res.Changed {
		t.Fatalf("same set: %+v, %v", res, err)
	}
	res, err = w.Apply(ctx, []string{"gpu-1"})
	if err != nil || !res.Changed || strings.Join(res.Nodes, ",") != "gpu-1" {
		t.Fatalf("shrink: %+v, %v", res, err)
	}

	// A creation that fails: the error carries Terraform's reason.
	if err := os.WriteFile(failFile, []byte("InsufficientInstanceCapacity"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = w.Apply(ctx, []string{"gpu-1", "gpu-2"})
	var tfErr *Error
	if !errors.As(err, &tfErr) || tfErr.Step != "apply" || !strings.Contains(err.Error(), "InsufficientInstanceCapacity") {
		t.Fatalf("failing apply: err = %v", err)
	}
	os.Remove(failFile)

	// A new Workspace on the same dir (a restarted process) reads the state
	// and does not run init again.
	w2 := newTestWorkspace(t, dir, map[string]cty.Value{"fail_file": cty.StringVal(failFile)}, logs)
	before := strings.Count(logs.String(), "Terraform has been successfully initialized")
	got, err := w2.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// gpu-2 failed after it was created: Terraform keeps it (tainted), as
	// a cloud keeps a machine whose setup failed.
	if strings.Join(got, ",") != "gpu-1,gpu-2" {
		t.Errorf("after restart: nodes %v, want gpu-1,gpu-2", got)
	}
	if after := strings.Count(logs.String(), "Terraform has been successfully initialized"); after != before {
		t.Errorf("restart ran init again")
	}
	res, err = w2.Apply(ctx, []string{"gpu-1", "gpu-2"})
	if err != nil || !res.Changed {
		t.Fatalf("retry replaces the tainted node: %+v, %v", res, err)
	}
}

// TestWorkspaceSerialises runs applies of one pool from many goroutines
// and two Workspace values: none may fail on the state lock and the last
// one wins.
func TestWorkspaceSerialises(t *testing.T) {
	needTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	a := newTestWorkspace(t, dir, nil, logs)
	b := newTestWorkspace(t, dir, nil, logs)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, w := range []*Workspace{a, b, a, b} {
		wg.Add(1)
		go func(i int, w *Workspace) {
			defer wg.Done()
			_, err := w.Apply(ctx, []string{"n-" + string(rune('a'+i))})
			errs <- err
		}(i, w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := a.Nodes(ctx)
	if err != nil || len(got) != 1 {
		t.Errorf("nodes %v, err %v; want exactly one name", got, err)
	}
}

// TestWorkspaceCancel interrupts an apply half way: Terraform stops, the
// state stays readable and unlocked, and the next apply completes the set.
func TestWorkspaceCancel(t *testing.T) {
	needTerraform(t)
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	slow := newTestWorkspace(t, dir, map[string]cty.Value{"create_delay_seconds": cty.NumberIntVal(3)}, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := slow.Apply(ctx, []string{"a", "b"}); err == nil {
		t.Fatal("apply should have been interrupted")
	}
	fast := newTestWorkspace(t, dir, nil, logs)
	res, err := fast.Apply(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Nodes, ",") != "a,b" {
		t.Errorf("nodes %v", res.Nodes)
	}
}

func TestNewRefuses(t *testing.T) {
	needTerraform(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad pool", Options{Pool: "../x", Module: testPoolModule, StateDir: t.TempDir()}, "cannot name"},
		{"no state dir", Options{Pool: "p", Module: testPoolModule}, "-state-dir"},
		{"no module", Options{Pool: "p", StateDir: t.TempDir()}, "no terraform module"},
		{"missing module", Options{Pool: "p", Module: "/nonexistent", StateDir: t.TempDir()}, "not a directory"},
		{"bad var", Options{Pool: "p", Module: testPoolModule, StateDir: t.TempDir(), Vars: map[string]cty.Value{"a b": cty.True}}, "variable name"},
		{"bad bin", Options{Pool: "p", Module: testPoolModule, StateDir: t.TempDir(), Bin: "/nonexistent/tf"}, "terraform_bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestWorkspaceReinit: a module that gains a module call after the
// workdir was initialised is initialised again instead of failing.
func TestWorkspaceReinit(t *testing.T) {
	needTerraform(t)
	mod := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(mod, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.tf", "variable \"nodes\" {\n  type = set(string)\n}\nresource \"terraform_data\" \"n\" {\n  for_each = var.nodes\n}\n")
	logs := &syncbuf.Buffer{}
	w, err := New(Options{Pool: "p", Module: mod, StateDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.Apply(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(testPoolModule)
	write("inner.tf", "module \"inner\" {\n  source = \""+abs+"\"\n  nodes  = var.nodes\n}\n")
	res, err := w.Apply(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatalf("apply after the module changed: %v\n%s", err, logs.String())
	}
	if strings.Join(res.Nodes, ",") != "a,b" || !strings.Contains(logs.String(), "asks for init") {
		t.Errorf("nodes %v; logs:\n%s", res.Nodes, logs.String())
	}
}
