package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

func init() {
	register(command{name: "autoscale", synopsis: "Grow and shrink GPU pools with demand through Terraform (long-running)", run: runAutoscale})
}

// leaseTTL is the autoscaler lock's lifetime: a standby takes over between
// one and two TTLs after the leader's last renewal, well within 30 s.
const leaseTTL = 12 * time.Second

func runAutoscale(ctx context.Context, env Env, args []string) int {
	o, code, ok := parseAutoscaleFlags(env, args)
	if !ok {
		return code
	}
	log := env.Logger
	cat, diags := o.cf.loadPools(ctx, env, o.dir)
	if diags.HasErrors() {
		writeDiags(env, cat.Files, diags, false)
		return ExitError
	}
	writeDiags(env, cat.Files, diags, false) // warnings
	pools, err := autoscaledPools(cat, o.dir, o.only)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	provs, err := poolWorkspaces(pools, o.stateDir, o.dryRun, env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	nc, err := o.nf.client(env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	holder := holderName()
	loop, err := newAutoscaleLoop(env, o, cat, pools, provs, nc, reg, holder)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}

	srvErr, stopMetrics, err := serveMetrics(env, o.listen, reg)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	defer stopMetrics()
	log.Info("autoscaling", "pools", slices.Sorted(maps.Keys(pools)), "state_dir", o.stateDir, "nomad", nc.Address(), "dry_run", o.dryRun, "holder", holder)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.dryRun {
		startRunServices(runCtx, log, nc, reg, holder, o.runsNS)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run(runCtx) }()
	if code := untilStopped(env, cancel, done, 1, srvErr); code != ExitOK {
		return code
	}
	log.Info("autoscaler stopped")
	return ExitOK
}

// autoscaleOpts are autoscale's flags and directory, defaults applied.
type autoscaleOpts struct {
	cf       *configFlags
	nf       *poolsNomadFlags
	dir      string
	dryRun   bool
	listen   string
	stateDir string
	only     []string
	resync   time.Duration
	runsNS   string
	policy   decide.Policy
}

// parseAutoscaleFlags reads autoscale's command line; ok false means exit
// with code.
func parseAutoscaleFlags(env Env, args []string) (o autoscaleOpts, code int, ok bool) {
	fs := newFlagSet(env, "autoscale", "[POOLSDIR]")
	o.cf = addConfigFlags(fs)
	o.nf = addPoolsNomadFlags(fs)
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the decisions and change nothing (no Terraform, no Nomad writes)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9465", "serve /metrics on this `address`; empty disables")
	fs.StringVar(&o.stateDir, "state-dir", "", "parent `directory` of the per-pool Terraform workdirs and states (default: $CARAVAN_STATE_DIR, else POOLSDIR/.caravan/terraform)")
	fs.Func("pool", "scale only the pool `NAME` (repeatable; default: every pool with a terraform block)", func(s string) error {
		o.only = append(o.only, s)
		return nil
	})
	fs.DurationVar(&o.resync, "resync", 30*time.Second, "full re-read of the cluster at least this often")
	fs.StringVar(&o.runsNS, "runs-namespace", "", "keep the history of runs in this namespace only (default: every namespace the token sees)")
	o.policy = decide.DefaultPolicy()
	fs.BoolVar(&o.policy.Move, "moves", o.policy.Move, "move checkpointing runs off nodes to empty them when that saves machine time (runs without a checkpoint block are never moved)")
	fs.DurationVar(&o.policy.MoveMinAge, "move-min-age", o.policy.MoveMinAge, "move no run that has run for less than this (most runs are short)")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return o, code, false
	}
	if len(pos) > 1 {
		errorf(env, "autoscale takes at most one directory, the operator's pools directory; got %d arguments\n  Usage: caravan autoscale [POOLSDIR] [-dry-run] [-listen ADDR] [-state-dir DIR]", len(pos))
		return o, ExitUsage, false
	}
	o.dir = "."
	if len(pos) == 1 {
		o.dir = pos[0]
	}
	if o.stateDir == "" {
		o.stateDir = env.Getenv("CARAVAN_STATE_DIR")
	}
	if o.stateDir == "" {
		o.stateDir = filepath.Join(o.dir, ".caravan", "terraform")
	}
	return o, ExitOK, true
}

// newAutoscaleLoop builds the autoscaler's loop; outside a dry run it
// holds the autoscaler's lease, so that one replica acts at a time.
func newAutoscaleLoop(env Env, o autoscaleOpts, cat *spec.Catalog, pools map[string]*spec.Pool, provs map[string]autoscale.Provisioner, nc *nomad.Client, reg prometheus.Registerer, holder string) (*autoscale.Loop, error) {
	lc := autoscale.Config{
		Pools: pools, Provisioners: provs, Nomad: nc, Events: nc, Mover: nc,
		DryRun: o.dryRun, DryRunOut: env.Stdout, Resync: o.resync,
		Logger: env.Logger, Metrics: autoscale.NewMetrics(reg), Holder: holder,
		// What experiments may name and do, for validate, plan and apply;
		// and the node pools of the pools scaled here, so that runs can be
		// submitted before the first machine registers.
		Catalog: cat, NodePools: nc, Policy: &o.policy,
	}
	if !o.dryRun {
		lc.Leader = nc.NewLease("", autoscale.LeaseVariable, holder, leaseTTL)
		// Renewed four times a TTL, each renewal bounded by the period:
		// a process that cannot renew stops acting after at most half
		// a TTL, a standby takes over no sooner than one TTL.
		lc.LeaderPoll = leaseTTL / 4
	}
	return autoscale.NewLoop(lc)
}

// startRunServices starts, until ctx ends, what the service that scales
// pools also does for runs: it keeps their history, starts the runs that
// waited for others (depends_on), and watches for stalls.
func startRunServices(ctx context.Context, log *slog.Logger, nc *nomad.Client, reg prometheus.Registerer, holder, namespace string) {
	cm := controller.NewMetrics(reg)
	records := controller.New(controller.Config{Nomad: nc, Logger: log, Metrics: cm, Holder: holder, Namespace: namespace})
	go func() { _ = records.Run(ctx) }()
	deps := controller.NewDependencies(controller.DependenciesConfig{Nomad: nc, Logger: log, Metrics: cm, Namespace: namespace})
	go func() { _ = deps.Run(ctx) }()
	stalls := controller.NewStalls(controller.StallsConfig{Nomad: nc, Logger: log, Metrics: cm, Namespace: namespace})
	go func() { _ = stalls.Run(ctx) }()
}

// poolWorkspaces prepares the Terraform workspace of each pool. The
// module gets the pool's node_pool when it declares that variable, and
// every variable it needs must be set: a pool whose module would fail at
// its first apply is refused at start.
func poolWorkspaces(pools map[string]*spec.Pool, stateDir string, readOnly bool, env Env) (map[string]autoscale.Provisioner, error) {
	provs := map[string]autoscale.Provisioner{}
	for _, name := range sortedPoolNames(pools) {
		p := pools[name]
		np := p.NodePool
		if np == "" {
			np = name
		}
		ws, err := terraform.New(terraform.Options{
			Pool: name, Module: p.Terraform.Module, Vars: p.Terraform.Vars, NodePool: np, Spot: p.Spot,
			Bin: p.Terraform.Bin, StateDir: stateDir, Logger: env.Logger,
			// A dry run reads the states as they are: no init, no
			// provider download, no workdir created.
			ReadOnly: readOnly,
		})
		if err != nil {
			return nil, err
		}
		provs[name] = ws
	}
	return provs, nil
}

// autoscaledPools picks the pools with a terraform block (all, or those
// named with -pool).
func autoscaledPools(cat *spec.Catalog, dir string, only []string) (map[string]*spec.Pool, error) {
	out := map[string]*spec.Pool{}
	for name, p := range cat.Pools {
		if p.Terraform != nil && p.Terraform.Module != "" {
			out[name] = p
		}
	}
	if len(only) > 0 {
		sel := map[string]*spec.Pool{}
		for _, n := range only {
			p, ok := out[n]
			if !ok {
				return nil, fmt.Errorf("-pool %s: no pool %q with a terraform block in %s; autoscaled pools are: %s", n, n, dir, strings.Join(sortedPoolNames(out), ", "))
			}
			sel[n] = p
		}
		out = sel
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no pool in %s has a terraform block, so there is nothing to scale; caravan autoscale reads the operator's pools directory, whose pools have terraform blocks:\n  pool \"gpu\" {\n    max_nodes = 4\n    terraform { module = \"../terraform/aws-gpu-pool\" }\n  }", dir)
	}
	return out, nil
}

func sortedPoolNames(m map[string]*spec.Pool) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

// holderName identifies this process in the lock and records.
func holderName() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// poolsNomadFlags are the Nomad connection flags of autoscale, pools and
// cost.
type poolsNomadFlags struct {
	address, token, namespace string
}

func addPoolsNomadFlags(fs interface {
	StringVar(p *string, name, value, usage string)
}) *poolsNomadFlags {
	f := &poolsNomadFlags{}
	fs.StringVar(&f.address, "address", "", "Nomad HTTP address (default: $NOMAD_ADDR, else http://127.0.0.1:4646)")
	fs.StringVar(&f.token, "token", "", "Nomad ACL token (default: $NOMAD_TOKEN)")
	fs.StringVar(&f.namespace, "namespace", "", "Nomad namespace of the autoscaler's variables (default: $NOMAD_NAMESPACE, else default)")
	return f
}

func (f *poolsNomadFlags) client(env Env) (*nomad.Client, error) {
	return nomad.New(nomad.Config{Address: f.address, Token: f.token, Namespace: f.namespace, Getenv: env.Getenv})
}

// untilStopped waits for the first of n services (each sends once on
// done) to stop, or for the metrics server to fail, which stops them all:
// a service whose metrics nobody can scrape would fail silently.
func untilStopped(env Env, cancel context.CancelFunc, done <-chan error, n int, srvErr <-chan error) int {
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			errorf(env, "%v", err)
			return ExitError
		}
		return ExitOK
	case err := <-srvErr:
		cancel()
		for range n {
			<-done
		}
		errorf(env, "metrics server stopped: %v", err)
		return ExitError
	}
}

// serveMetrics serves reg's /metrics (and /healthz) on listen until the
// returned stop is called; an empty listen serves nothing. A server that
// stops on its own reports why on the channel.
func serveMetrics(env Env, listen string, reg *prometheus.Registry) (<-chan error, func(), error) {
	errc := make(chan error, 1)
	if listen == "" {
		return errc, func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot listen on %s: %w; pick a free address with -listen, or -listen '' to serve no metrics", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- hs.Serve(ln) }()
	env.Logger.Info("serving metrics", "url", fmt.Sprintf("http://%s/metrics", ln.Addr()))
	return errc, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}, nil
}
