package agentcmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/caravan-ml/caravan/internal/agent"
	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/nomad"
)

// Run runs the agent until ctx ends: it serves /metrics on f.Listen and,
// unless f.NoNomad, samples runs and writes their usage to Nomad. getenv
// reads the environment (NOMAD_*, GOMAXPROCS, GOGC). Errors in the flags
// are *UsageError; the agent stopping because ctx ended is no error.
func Run(ctx context.Context, f Flags, getenv func(string) string, log *slog.Logger) error {
	if err := check(&f, log); err != nil {
		return err
	}
	procs, gc := runtimeDefaults(getenv)
	log.Debug("Go runtime", "gomaxprocs", procs, "gogc", gc)

	var store agent.UsageStore
	var nc *nomad.Client
	if !f.NoNomad {
		c, err := nomad.New(nomad.Config{Address: f.NomadAddr, AddressFlag: "-nomad-addr", Token: f.Token, Getenv: getenv})
		if err != nil {
			return err
		}
		nc, store = c, c
		log.Info("reading Nomad", "address", c.Address())
	}
	var id identity
	if nc != nil {
		id = identify(ctx, nc, nc.Address(), &f, log)
	} else {
		id = identify(ctx, nil, "", &f, log)
	}
	cfg := agent.Config{Node: f.Node, NodeID: f.NodeID, Pool: f.Pool, ProcRoot: f.ProcRoot, Logger: log,
		CgroupRoot: f.CgroupRoot, CgroupParent: id.CgroupParent, AllocDir: cmp.Or(f.AllocDir, id.AllocDir)}
	if nc != nil {
		cfg.Nomad = nc
	}
	cfg.GPU, cfg.GPUErr = openGPU(f, log)
	if cfg.GPU != nil {
		defer func() {
			if err := cfg.GPU.Close(); err != nil {
				log.Warn("closing NVML", "err", err)
			}
		}()
	}
	if k, err := agent.OpenKmsg("/dev/kmsg"); err != nil {
		log.Info("OOM kills are read from run cgroups only: the kernel log is not readable (it takes root or CAP_SYSLOG)", "err", err)
	} else {
		cfg.KernelLog = k
		defer k.Close()
	}
	log.Info("reading runs", "cgroup_root", cfg.CgroupRoot, "alloc_dir", cfg.AllocDir)
	if cfg.GPU == nil && cfg.Nomad == nil {
		return usagef("nothing to read: %v; and -no-nomad was given", cfg.GPUErr)
	}

	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w; pick a free port with -listen", f.Listen, err)
	}
	a := agent.New(cfg)
	reg := prometheus.NewRegistry()
	if err := agent.Register(reg, agent.NewCollector(a)); err != nil {
		ln.Close()
		return err
	}
	h := agent.Handler(reg, log)
	log.Info("serving metrics", "url", fmt.Sprintf("http://%s/metrics", ln.Addr()))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return agent.Serve(gctx, ln, h) })
	if !f.NoNomad {
		s := agent.NewSampler(a, store, f.Interval, f.Flush)
		g.Go(func() error { return s.Run(gctx) })
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("agent stopped")
	return nil
}

// check validates f.
func check(f *Flags, log *slog.Logger) error {
	if f.Interval <= 0 || f.Flush <= 0 || f.GPUTimeout <= 0 {
		return usagef("-interval, -flush and -gpu-timeout must be positive durations such as 5s")
	}
	host, _, err := net.SplitHostPort(f.Listen)
	if err != nil {
		return usagef("-listen %q is not HOST:PORT: %v", f.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		log.Warn("metrics are served on all interfaces, as -listen asked; make sure only Prometheus can reach the port", "listen", f.Listen)
	}
	return nil
}

// openGPU opens NVML, or returns why it cannot be used: the agent then
// reads GPUs through the Nomad device plugin's stats.
func openGPU(f Flags, log *slog.Logger) (*gpu.Reader, error) {
	src, err := gpu.Open()
	if err != nil {
		log.Warn("reading GPUs through the Nomad device plugin instead of NVML", "reason", err)
		return nil, err
	}
	log.Info("NVML opened", "gpus", len(src.Devices()))
	if sk, ok := src.(interface{ Skipped() []error }); ok {
		for _, err := range sk.Skipped() {
			log.Warn("GPU left out: it could not be opened", "err", err)
		}
	}
	return gpu.NewReader(src, f.GPUTimeout), nil
}

// Runtime defaults of the agent, which runs on every GPU node and needs
// little CPU: a P per core of a large node costs resident memory and CPU
// per scrape for nothing (docs/performance.md, "Agent memory").
const (
	maxProcs  = 2
	gcPercent = 50
)

// runtimeDefaults applies the agent's GOMAXPROCS and GOGC unless the
// environment sets them, and returns the values in effect.
func runtimeDefaults(getenv func(string) string) (procs, gc int) {
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
	gc = debug.SetGCPercent(-1)
	if getenv("GOGC") == "" {
		gc = gcPercent
	}
	debug.SetGCPercent(gc)
	return runtime.GOMAXPROCS(0), gc
}
