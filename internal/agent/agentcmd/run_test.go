package agentcmd

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// keepRuntime restores GOMAXPROCS and GOGC after a test that sets them.
func keepRuntime(t *testing.T) {
	procs, gc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}

func parse(t *testing.T, args ...string) Flags {
	t.Helper()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Define(fs, func(k string) string { return map[string]string{"CARAVAN_POOL": "env-pool"}[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return *f
}

func TestFlagsAreCheckedBeforeAnythingOpens(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "9464"}, "is not HOST:PORT"},
		{[]string{"-interval", "0s"}, "must be positive"},
		{[]string{"-gpu-timeout", "-1s"}, "must be positive"},
		{[]string{"-preemption-notice", "azure"}, `"azure" is not a cloud`},
		{[]string{"-preemption-poll", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		err := Run(context.Background(), parse(t, tt.args...), func(string) string { return "" }, slog.New(slog.DiscardHandler))
		if !IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want a usage error with %q", tt.args, err, tt.want)
		}
	}
}

func TestDefineReadsTheEnvironment(t *testing.T) {
	if f := parse(t); f.Pool != "env-pool" || f.Listen != "127.0.0.1:9464" {
		t.Errorf("defaults: pool %q listen %q", f.Pool, f.Listen)
	}
	if f := parse(t, "-pool", "flag-pool"); f.Pool != "flag-pool" {
		t.Errorf("-pool: %q, want the flag over CARAVAN_POOL", f.Pool)
	}
}

func TestRuntimeDefaults(t *testing.T) {
	keepRuntime(t)
	tests := []struct {
		name              string
		env               map[string]string
		startProcs        int
		wantProcs, wantGC int
	}{
		{"a big node is capped", nil, 8, 2, 50},
		{"a small node keeps its one P", nil, 1, 1, 50},
		{"GOMAXPROCS set by the operator wins", map[string]string{"GOMAXPROCS": "8"}, 8, 8, 50},
		// The runtime read GOGC itself at start; the agent leaves it.
		{"GOGC set by the operator wins", map[string]string{"GOGC": "100"}, 8, 2, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GOMAXPROCS(tt.startProcs)
			debug.SetGCPercent(100)
			procs, gc := runtimeDefaults(func(k string) string { return tt.env[k] })
			if procs != tt.wantProcs || runtime.GOMAXPROCS(0) != tt.wantProcs {
				t.Errorf("GOMAXPROCS = %d (runtime %d), want %d", procs, runtime.GOMAXPROCS(0), tt.wantProcs)
			}
			if got := debug.SetGCPercent(gc); gc != tt.wantGC || got != tt.wantGC {
				t.Errorf("GOGC = %d (runtime %d), want %d", gc, got, tt.wantGC)
			}
		})
	}
}
