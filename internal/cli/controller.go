package cli

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
)

func init() {
	register(command{name: "controller", synopsis: "Keep every run's history in Nomad Variables (long-running; `autoscale` also does this)", run: runController})
}

// runController runs the records controller alone, for clusters whose
// pools caravan does not scale: apply registers jobs only, and this writes
// the record of each, so that runs' history outlives Nomad's garbage
// collector. `caravan autoscale` runs the same controller beside the
// autoscaler; one of the two must run in every cluster caravan uses.
func runController(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "controller", "")
	nf := addNomadFlags(fs)
	listen := fs.String("listen", "127.0.0.1:9465", "serve /metrics on this `address`; empty disables")
	resync := fs.Duration("resync", controller.DefaultResync, "compare every caravan job with the records at least this often")
	stallEvery := fs.Duration("stall-check", controller.DefaultStallEvery, "look for stalled runs (experiments with stall_timeout) this often")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "controller takes no arguments, got %q", pos)
		return ExitUsage
	}
	nc, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srvErr, stopMetrics, err := serveMetrics(env, *listen, reg)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	defer stopMetrics()
	// -namespace (or NOMAD_NAMESPACE) limits the controller to one
	// namespace's runs; by default it keeps every namespace's.
	ns := nomad.AllNamespaces
	if nf.namespace != "" || env.Getenv("NOMAD_NAMESPACE") != "" {
		ns = nc.Namespace()
	}
	cm := controller.NewMetrics(reg)
	records := controller.New(controller.Config{Nomad: nc, Logger: env.Logger, Resync: *resync,
		Metrics: cm, Namespace: ns, Holder: holderName()})
	// Gates are few and cheap to look at: a short resync lets a gate
	// whose upstream runs had already completed start within it.
	deps := controller.NewDependencies(controller.DependenciesConfig{Nomad: nc, Logger: env.Logger,
		Resync: min(*resync, controller.DefaultDependencyResync), Metrics: cm, Namespace: ns})
	stalls := controller.NewStalls(controller.StallsConfig{Nomad: nc, Logger: env.Logger, Every: *stallEvery, Metrics: cm, Namespace: ns})
	env.Logger.Info("keeping run records, releasing waiting runs and watching for stalls", "nomad", nc.Address(), "namespace", ns, "resync", resync.String())
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 3)
	go func() { done <- records.Run(runCtx) }()
	go func() { done <- deps.Run(runCtx) }()
	go func() { done <- stalls.Run(runCtx) }()
	if code := untilStopped(env, cancel, done, 3, srvErr); code != ExitOK {
		return code
	}
	env.Logger.Info("controller stopped")
	return ExitOK
}
