package cli

import (
	"context"

	"github.com/caravan-ml/caravan/internal/agent/agentcmd"
)

func init() {
	register(command{name: "agent", synopsis: agentcmd.Synopsis, run: runAgent})
}

// runAgent is `caravan agent`: the command GPU nodes run as
// cmd/caravan-agent, with the same flags, for those who ship one binary.
func runAgent(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "agent", "")
	f := agentcmd.Define(fs, env.Getenv)
	if _, code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := agentcmd.Run(ctx, *f, env.Getenv, env.Logger); err != nil {
		errorf(env, "%v", err)
		if agentcmd.IsUsage(err) {
			return ExitUsage
		}
		return ExitError
	}
	return ExitOK
}
