package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

func TestAgentFlagsAreChecked(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "9464"}, "is not HOST:PORT"},
		{[]string{"-interval", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		env := Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
		if code := Main(context.Background(), append([]string{"agent"}, tt.args...), env); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", tt.args, code, ExitUsage)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: stderr %q lacks %q", tt.args, stderr.String(), tt.want)
		}
	}
}

// TestAgentServesAndStops runs the real command against an unreachable
// Nomad (and, on this machine, no NVML): it must still serve /metrics,
// report the failing sources, and exit 0 when its context ends.
func TestAgentServesAndStops(t *testing.T) {
	keepRuntime(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := Env{Stdout: io.Discard, Stderr: &syncbuf.Buffer{}, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"agent", "-listen", addr, "-nomad-addr", "http://127.0.0.1:1", "-node", "n1", "-pool", "p"}, env)
	}()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		select {
		case code := <-done:
			t.Fatalf("agent exited early with %d", code)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !strings.Contains(body, `caravan_agent_source_success{node="n1",pool="p",source="nomad"} 0`) {
		t.Errorf("scrape lacks the failed nomad source:\n%s", body)
	}
	if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Error("Go and process collectors must be registered")
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after cancel, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop after its context ended")
	}
}

// keepRuntime restores GOMAXPROCS and GOGC after a test that runs the
// agent, which sets both for its process.
func keepRuntime(t *testing.T) {
	procs, gc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}
