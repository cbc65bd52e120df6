package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/caravan-ml/caravan/internal/agent"
	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/nomad"
)

func init() {
	register(command{name: "agent", synopsis: "Export this node's GPU and run telemetry to Prometheus, and run usage to Nomad", run: runAgent})
}

func runAgent(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "agent", "")
	listen := fs.String("listen", "127.0.0.1:9464", "address to serve /metrics on; listening on all interfaces (e.g. 0.0.0.0:9464) is opt-in")
	interval := fs.Duration("interval", 5*time.Second, "how often to sample runs for their usage summaries")
	flush := fs.Duration("flush", time.Minute, "how often to write each run's usage summary to Nomad")
	nomadAddr := fs.String("nomad-addr", "", "the local Nomad client agent's address (default: NOMAD_ADDR, else http://127.0.0.1:4646)")
	token := fs.String("token", "", "Nomad ACL token (default: NOMAD_TOKEN)")
	noNomad := fs.Bool("no-nomad", false, "do not read Nomad: GPUs only, no attribution to runs, no usage summaries")
	procRoot := fs.String("proc-root", "/proc", "the host's /proc (e.g. /host/proc when running in a container)")
	node := fs.String("node", "", "node name for the node label (default: the host name)")
	nodeID := fs.String("node-id", env.Getenv("CARAVAN_NODE_ID"), "Nomad node ID, to list the node's allocations (default: CARAVAN_NODE_ID; without it runs are found only through their GPU processes)")
	pool := fs.String("pool", env.Getenv("CARAVAN_POOL"), "the node's Nomad node pool, for the pool label (the jobspec passes ${node.pool}; default: CARAVAN_POOL). It equals the caravan pool name only when that pool's node_pool is its own name")
	gpuTimeout := fs.Duration("gpu-timeout", time.Second, "deadline of each GPU read; a device slower than this is skipped and counted as failed")
	if _, code, ok := parseFlags(fs, args); !ok {
		return code
	}
	log := env.Logger
	if *interval <= 0 || *flush <= 0 || *gpuTimeout <= 0 {
		errorf(env, "-interval, -flush and -gpu-timeout must be positive durations such as 5s")
		return ExitUsage
	}
	if *node == "" {
		h, err := os.Hostname()
		if err != nil {
			errorf(env, "cannot read the host name (%v); pass -node NAME", err)
			return ExitUsage
		}
		*node = h
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		errorf(env, "-listen %q is not HOST:PORT: %v", *listen, err)
		return ExitUsage
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		log.Warn("metrics are served on all interfaces, as -listen asked; make sure only Prometheus can reach the port", "listen", *listen)
	}

	procs, gc := agentRuntimeDefaults(env.Getenv)
	log.Debug("Go runtime", "gomaxprocs", procs, "gogc", gc)

	cfg := agent.Config{Node: *node, NodeID: *nodeID, Pool: *pool, ProcRoot: *procRoot, Logger: log}
	src, err := gpu.Open()
	if err != nil {
		cfg.GPUErr = err
		log.Warn("reading GPUs through the Nomad device plugin instead of NVML", "reason", err)
	} else {
		cfg.GPU = gpu.NewReader(src, *gpuTimeout)
		defer func() {
			if err := cfg.GPU.Close(); err != nil {
				log.Warn("closing NVML", "err", err)
			}
		}()
		log.Info("NVML opened", "gpus", len(src.Devices()))
		if sk, ok := src.(interface{ Skipped() []error }); ok {
			for _, err := range sk.Skipped() {
				log.Warn("GPU left out: it could not be opened", "err", err)
			}
		}
	}
	var store agent.UsageStore
	if !*noNomad {
		c, err := nomad.New(nomad.Config{Address: *nomadAddr, AddressFlag: "-nomad-addr", Token: *token, Getenv: env.Getenv})
		if err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
		cfg.Nomad, store = c, c
		log.Info("reading Nomad", "address", c.Address(), "node_id", *nodeID)
	}
	if cfg.GPU == nil && cfg.Nomad == nil {
		errorf(env, "nothing to read: %v; and -no-nomad was given", cfg.GPUErr)
		return ExitUsage
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		errorf(env, "cannot listen on %s: %v; pick a free port with -listen", *listen, err)
		return ExitError
	}
	a := agent.New(cfg)
	reg := prometheus.NewRegistry()
	if err := agent.Register(reg, agent.NewCollector(a)); err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	h := agent.Handler(reg, log)
	log.Info("serving metrics", "url", fmt.Sprintf("http://%s/metrics", ln.Addr()))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return agent.Serve(gctx, ln, h) })
	if !*noNomad {
		s := agent.NewSampler(a, store, *interval, *flush)
		g.Go(func() error { return s.Run(gctx) })
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		errorf(env, "%v", err)
		return ExitError
	}
	log.Info("agent stopped")
	return ExitOK
}

// Runtime defaults of the agent, which runs on every GPU node and needs
// little CPU. Measured with docs/scripts/agent-rss.sh (slim build, 500
// scrapes, medians of 3): with 64 Ps and GOGC 100 the agent held 21.2 MiB
// and spent 3.1 ms of CPU a scrape; with these caps, 16.6 MiB and 1.7 ms.
const (
	agentMaxProcs  = 2
	agentGCPercent = 50
)

// agentRuntimeDefaults applies the agent's GOMAXPROCS and GOGC unless the
// environment sets them, and returns the values in effect.
func agentRuntimeDefaults(getenv func(string) string) (procs, gcPercent int) {
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) > agentMaxProcs {
		runtime.GOMAXPROCS(agentMaxProcs)
	}
	gcPercent = debug.SetGCPercent(-1)
	if getenv("GOGC") == "" {
		gcPercent = agentGCPercent
	}
	debug.SetGCPercent(gcPercent)
	return runtime.GOMAXPROCS(0), gcPercent
}
