package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	fs := newFlagSet(env, "autoscale", "[POOLSDIR]")
	cf := addConfigFlags(fs)
	nf := addPoolsNomadFlags(fs)
	dryRun := fs.Bool("dry-run", false, "print the decisions and change nothing (no Terraform, no Nomad writes)")
	listen := fs.String("listen", "127.0.0.1:9465", "serve /metrics on this `address`; empty disables")
	stateDir := fs.String("state-dir", "", "parent `directory` of the per-pool Terraform workdirs and states (default: $CARAVAN_STATE_DIR, else POOLSDIR/.caravan/terraform)")
	var only []string
	fs.Func("pool", "scale only the pool `NAME` (repeatable; default: every pool with a terraform block)", func(s string) error {
		only = append(only, s)
		return nil
	})
	resync := fs.Duration("resync", 30*time.Second, "full re-read of the cluster at least this often")
	runsNS := fs.String("runs-namespace", "", "keep the history of runs in this namespace only (default: every namespace the token sees)")
	policy := decide.DefaultPolicy()
	fs.BoolVar(&policy.Move, "moves", policy.Move, "move checkpointing runs off nodes to empty them when that saves machine time (runs without a checkpoint block are never moved)")
	fs.DurationVar(&policy.MoveMinAge, "move-min-age", policy.MoveMinAge, "move no run that has run for less than this (most runs are short)")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		errorf(env, "autoscale takes at most one directory, the operator's pools directory; got %d arguments\n  Usage: caravan autoscale [POOLSDIR] [-dry-run] [-listen ADDR] [-state-dir DIR]", len(pos))
		return ExitUsage
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	log := env.Logger
	cat, diags := cf.loadPools(ctx, env, dir)
	if diags.HasErrors() {
		writeDiags(env, cat.Files, diags, false)
		return ExitError
	}
	writeDiags(env, cat.Files, diags, false) // warnings
	pools, err := autoscaledPools(cat, dir, only)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	if *stateDir == "" {
		*stateDir = env.Getenv("CARAVAN_STATE_DIR")
	}
	if *stateDir == "" {
		*stateDir = filepath.Join(dir, ".caravan", "terraform")
	}
	provs, err := poolWorkspaces(pools, *stateDir, *dryRun, env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	nc, err := nf.client(env)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	holder := holderName()
	lc := autoscale.Config{
		Pools: pools, Provisioners: provs, Nomad: nc, Events: nc, Mover: nc,
		DryRun: *dryRun, DryRunOut: env.Stdout, Resync: *resync,
		Logger: log, Metrics: autoscale.NewMetrics(reg), Holder: holder,
		// What experiments may name and do, for validate, plan and apply;
		// and the node pools of the pools scaled here, so that runs can be
		// submitted before the first machine registers.
		Catalog: cat, NodePools: nc, Policy: &policy,
	}
	if !*dryRun {
		lc.Leader = nc.NewLease("", autoscale.LeaseVariable, holder, leaseTTL)
		// Renewed four times a TTL, each renewal bounded by the period:
		// a process that cannot renew stops acting after at most half
		// a TTL, a standby takes over no sooner than one TTL.
		lc.LeaderPoll = leaseTTL / 4
	}
	loop, err := autoscale.NewLoop(lc)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}

	srvErr, stopMetrics, err := serveMetrics(env, *listen, reg)
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	defer stopMetrics()
	names := make([]string, 0, len(pools))
	for n := range pools {
		names = append(names, n)
	}
	sort.Strings(names)
	log.Info("autoscaling", "pools", names, "state_dir", *stateDir, "nomad", nc.Address(), "dry_run", *dryRun, "holder", holder)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !*dryRun {
		// The service that scales pools also keeps runs' history and
		// starts the runs that waited for others (depends_on).
		cm := controller.NewMetrics(reg)
		records := controller.New(controller.Config{Nomad: nc, Logger: log, Metrics: cm, Holder: holder, Namespace: *runsNS})
		go func() { _ = records.Run(runCtx) }()
		deps := controller.NewDependencies(controller.DependenciesConfig{Nomad: nc, Logger: log, Metrics: cm, Namespace: *runsNS})
		go func() { _ = deps.Run(runCtx) }()
		stalls := controller.NewStalls(controller.StallsConfig{Nomad: nc, Logger: log, Metrics: cm, Namespace: *runsNS})
		go func() { _ = stalls.Run(runCtx) }()
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run(runCtx) }()
	if code := untilStopped(env, cancel, done, 1, srvErr); code != ExitOK {
		return code
	}
	log.Info("autoscaler stopped")
	return ExitOK
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
