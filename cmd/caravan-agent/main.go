// Command caravan-agent is caravan's node agent, the binary every GPU node
// runs: it exports the node's GPU and run telemetry to Prometheus and each
// run's usage to Nomad. It links only the agent (internal/agent and what
// it reads), not the compiler, the autoscaler or the plots, so that its
// resident memory is the agent's own. `caravan agent` runs the same
// command with the same flags.
//
//	caravan-agent -listen 10.0.0.5:9464 -node-id $NODE_ID -pool gpu
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/caravan-ml/caravan/internal/agent/agentcmd"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole command, returning the exit code: 0, 1 when the agent
// fails, 2 for a command line it cannot parse.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("caravan-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := agentcmd.Define(fs, getenv)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: caravan-agent [flags]\n\n%s.\n\nFlags:\n", agentcmd.Synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "caravan-agent: unexpected argument %q: it takes flags only, and no subcommand (caravan-agent -h lists them)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "caravan-agent %s%s %s %s/%s\n", version, revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := agentcmd.Run(ctx, *f, getenv, log); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// revision is " (commit)" from the build's VCS stamp, or "".
func revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return " (" + s.Value[:12] + ")"
			}
		}
	}
	return ""
}
