//go:build e2e

package e2e

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/agent/agentcmd"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// agent runs `caravan agent` in-process against the GPU client of the rig
// (RIG_GPU_CLIENT_ADDR) while the test runs, sampling every second and
// writing usage summaries every two, as a GPU node runs it: metrics and
// CPU samples reach the runs' records through it. It returns false when
// the cluster is not the rig.
func (s *suite) agent() bool {
	s.t.Helper()
	addr := os.Getenv("RIG_GPU_CLIENT_ADDR")
	if addr == "" {
		return false
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	env := func(k string) string {
		if strings.HasPrefix(k, "CARAVAN_") {
			return ""
		}
		return os.Getenv(k)
	}
	f := agentcmd.Define(fs, env)
	if err := fs.Parse([]string{"-nomad-addr", addr, "-listen", "127.0.0.1:0", "-interval", "1s", "-flush", "2s"}); err != nil {
		s.t.Fatal(err)
	}
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agentcmd.Run(ctx, *f, env, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}()
	s.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.t.Errorf("agent: %v\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			s.t.Errorf("the agent did not stop\n%s", logs.String())
		}
	})
	return true
}
