// Command hcinstall installs pinned, signature-checked releases of nomad,
// terraform and nomad-device-nvidia for setting up real clusters; see
// docs/setup.md and internal/hcinstall.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/caravan-ml/caravan/internal/hcinstall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hcinstall.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
