// Command caravan declares ML experiments as HCL, compiles them to Nomad GPU
// batch jobs, scales GPU pools with demand and traces GPU use back to runs.
//
// The first SIGINT or SIGTERM cancels the command's context: loading,
// compiling and every Nomad call stop, long-running commands shut down
// cleanly, and a command that stops because of it exits 130 (SIGINT) or
// 143 (SIGTERM). A second signal ends the process at once with that code.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/caravan-ml/caravan/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, os.Exit)
	code := cli.Main(ctx, os.Args[1:], cli.StdEnv())
	var s signalled
	if code != cli.ExitOK && errors.As(context.Cause(ctx), &s) {
		code = s.exitCode()
	}
	os.Exit(code)
}

// signalled is the cause of a context canceled by a signal.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string {
	if s.sig == syscall.SIGTERM {
		return "received SIGTERM"
	}
	return "received SIGINT"
}

// exitCode is the shell's code for a process ended by the signal.
func (s signalled) exitCode() int {
	if s.sig == syscall.SIGTERM {
		return 128 + 15
	}
	return 128 + 2
}

// watchSignals cancels the command on the first signal and exits on the
// second without waiting for the command: a command that does not notice
// (a call that ignores its context, a stuck file system) must never keep
// the process alive against a second Ctrl-C, `timeout` or a CI cancel.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, exit func(int)) {
	cancel(signalled{<-sigs})
	exit(signalled{<-sigs}.exitCode())
}
