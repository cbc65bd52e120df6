package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

func init() {
	register(command{name: "version", synopsis: "Print caravan's version", run: runVersion})
}

func runVersion(_ context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "version", "")
	if _, code, ok := parseFlags(fs, args); !ok {
		return code
	}
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	fmt.Fprintf(env.Stdout, "caravan %s%s %s %s/%s\n", Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return ExitOK
}
