// Command caravan declares ML experiments as HCL, compiles them to Nomad GPU
// batch jobs, scales GPU pools with demand and traces GPU use back to runs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/caravan-ml/caravan/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.StdEnv())
	stop()
	os.Exit(code)
}
