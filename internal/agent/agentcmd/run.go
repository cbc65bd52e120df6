package agentcmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

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
	if f.PreemptCloud = preemptCloud(ctx, f, nc, log); f.PreemptCloud != "" {
		w, err := preemptWatcher(f, nc, reg, log)
		if err != nil {
			ln.Close()
			return err
		}
		g.Go(func() error { return w.Run(gctx) })
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("agent stopped")
	return nil
}

// preemptCloud is the cloud whose preemption notices the agent reads: the
// flag's, else the one the node's meta names (the aws and gcp pool modules
// set it on the clients of spot pools), else none.
func preemptCloud(ctx context.Context, f Flags, nc *nomad.Client, log *slog.Logger) string {
	if f.PreemptCloud != "" || nc == nil || f.NodeID == "" {
		return f.PreemptCloud
	}
	n, err := nc.Node(ctx, f.NodeID)
	if err != nil {
		log.Warn("cannot read the node's meta: preemption notices are read only with -preemption-notice", "err", err)
		return ""
	}
	cloud := n.Meta[agent.NodeMetaPreemptionNotice]
	if _, ok := agent.DefaultMetadataURL[cloud]; cloud != "" && !ok {
		log.Warn("node meta names a cloud caravan reads no notices from", "meta", agent.NodeMetaPreemptionNotice, "cloud", cloud)
		return ""
	}
	return cloud
}

// preemptWatcher is the watcher -preemption-notice asks for.
func preemptWatcher(f Flags, nc *nomad.Client, reg prometheus.Registerer, log *slog.Logger) (*agent.PreemptWatcher, error) {
	if nc == nil || f.NodeID == "" {
		return nil, usagef("-preemption-notice needs Nomad and this node's ID, to drain the node: drop -no-nomad, or pass -node-id")
	}
	url := cmp.Or(f.MetadataURL, agent.DefaultMetadataURL[f.PreemptCloud])
	src := &agent.Metadata{Cloud: f.PreemptCloud, BaseURL: url, HTTP: &http.Client{}, Now: time.Now}
	log.Info("watching for preemption notices", "cloud", f.PreemptCloud, "metadata_url", url, "every", f.PreemptPoll)
	return agent.NewPreemptWatcher(agent.PreemptWatcher{Source: src, Nomad: nc, NodeID: f.NodeID, NodeName: f.Node, Pool: f.Pool,
		Interval: f.PreemptPoll, Log: log}, reg)
}

// check validates f.
func check(f *Flags, log *slog.Logger) error {
	if f.Interval <= 0 || f.Flush <= 0 || f.GPUTimeout <= 0 || f.PreemptPoll <= 0 {
		return usagef("-interval, -flush, -gpu-timeout and -preemption-poll must be positive durations such as 5s")
	}
	if _, ok := agent.DefaultMetadataURL[f.PreemptCloud]; f.PreemptCloud != "" && !ok {
		return usagef("-preemption-notice %q is not a cloud caravan reads notices from: use aws or gcp", f.PreemptCloud)
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
