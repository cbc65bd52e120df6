package autoscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// Config configures a Loop.
type Config struct {
	// Pools to scale, by caravan pool name, and the Provisioner of each.
	Pools        map[string]*spec.Pool
	Provisioners map[string]Provisioner
	Nomad        Nomad
	// Events triggers decisions between resyncs; nil means resync only.
	Events EventSource
	// Leader, when set, must be held to act.
	Leader Leader
	// Namespace of the autoscaler's variables ("" = the client's).
	Namespace string
	// JobNamespace to read demand from ("" = all namespaces).
	JobNamespace string
	// Mover moves checkpointing runs off the nodes a decision empties;
	// nil leaves them where they are (the nodes then run dry).
	Mover RunMover
	// Policy tunes Decide; nil means DefaultPolicy.
	Policy *decide.Policy
	// DryRun prints decisions to DryRunOut and changes nothing.
	DryRun    bool
	DryRunOut io.Writer
	// Resync is the period of full re-reads (default 30 s); Coalesce is
	// how long a burst of events is gathered before one decision
	// (default 50 ms).
	Resync   time.Duration
	Coalesce time.Duration
	// BackoffMin and BackoffMax bound the wait before retrying a failed
	// Terraform apply (default 5 s and 5 min, doubling).
	BackoffMin, BackoffMax time.Duration
	// LeaderPoll is how often the lock is renewed or tried, whatever the
	// loop is doing (default 5 s); a renewal that takes longer fails. Two
	// LeaderPolls must be shorter than the lease's TTL: a process that
	// cannot renew stops acting within two LeaderPolls of its last
	// renewal, and a standby takes over a TTL after it.
	LeaderPoll time.Duration
	// ApplyTimeout bounds one Terraform plan+apply (default 30 min: GPU
	// machines can take long to create); StateTimeout bounds reading the
	// state (default 2 min).
	ApplyTimeout, StateTimeout time.Duration
	// SyncApply runs Terraform inside Step instead of in the background
	// (tests that step by hand).
	SyncApply bool
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
	// Holder names this process in records.
	Holder string
	// Catalog, when set, is published to CatalogVariable and NodePools
	// creates the node pools of Pools, each time this process becomes the
	// leader (catalog.go).
	Catalog   *spec.Catalog
	NodePools NodePoolMaker
}

// Loop observes Nomad, decides, and acts. Create it with NewLoop.
type Loop struct {
	cfg    Config
	obs    *Observer
	policy decide.Policy
	log    *slog.Logger
	met    *Metrics
	pools  map[string]*poolRun
	names  []string
	ids    map[string]string // node name -> Nomad node ID, last observed
	// term is the leadership this process holds now (nil: standing by),
	// set by keepLease; active is the one the loop last acted in, and
	// scope the context of its steps (leader.go).
	termMu sync.Mutex
	term   *term
	active *term
	scope  *scope
	// published: node pools made and catalogue published in this
	// leadership.
	published bool
	// applied carries finished background applies to the loop.
	applied chan applyDone
	kick    chan time.Time
	nextAt  time.Time
	// running counts background applies, awaited at shutdown so that an
	// interrupted Terraform can save its state before the process exits.
	running sync.WaitGroup
}

type poolRun struct {
	name      string
	pool      *spec.Pool
	prov      Provisioner
	loaded    bool
	inState   []string
	tainted   []string // names in state whose creation failed half way
	requested map[string]time.Time
	seen      map[string]time.Time
	history   decide.History
	last      RecordedDecision
	lastPrint string
	tf        TerraformStatus
	failures  int
	applying  bool
	replacing map[string]bool // failed names on their way out of state
	// misplacedWarned are the misplaced nodes already logged this term.
	misplacedWarned map[string]bool
	// recordIndex and costIndex are the modify indexes of the pool record
	// and today's cost record as this process last read or wrote them:
	// every write is a check-and-set against them.
	recordIndex, costIndex uint64
	view                   PoolView
	state                  decide.PoolState
	wakeAt                 time.Time
	// accounting
	lastAccount time.Time
	cost        *CostRecord
	costSaved   time.Time
	recordSaved time.Time
	dirty       bool
}

type applyDone struct {
	pool   string
	term   *term
	target []string
	res    terraform.ApplyResult
	err    error
	at     time.Time
}

// positiveOr sets *d to def unless it is positive: a zero Config field
// means "the default", and a negative one would spin or never fire.
func positiveOr(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// NewLoop checks cfg and returns a Loop.
func NewLoop(cfg Config) (*Loop, error) {
	if cfg.Nomad == nil {
		return nil, errors.New("autoscale: no Nomad client")
	}
	if len(cfg.Pools) == 0 {
		return nil, errors.New("no pools to scale: declare pool blocks with a terraform block")
	}
	for name := range cfg.Pools {
		if cfg.Provisioners[name] == nil {
			return nil, fmt.Errorf("pool %q has no Terraform workspace", name)
		}
	}
	positiveOr(&cfg.Resync, 30*time.Second)
	positiveOr(&cfg.Coalesce, 50*time.Millisecond)
	positiveOr(&cfg.BackoffMin, 5*time.Second)
	positiveOr(&cfg.BackoffMax, 5*time.Minute)
	positiveOr(&cfg.ApplyTimeout, 30*time.Minute)
	positiveOr(&cfg.StateTimeout, 2*time.Minute)
	positiveOr(&cfg.LeaderPoll, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.DryRunOut == nil {
		cfg.DryRunOut = io.Discard
	}
	p := decide.DefaultPolicy()
	if cfg.Policy != nil {
		p = *cfg.Policy
	}
	l := &Loop{
		cfg: cfg, policy: p, log: cfg.Logger, met: cfg.Metrics,
		obs:     &Observer{Nomad: cfg.Nomad, Namespace: cfg.JobNamespace, EvalMaxAge: cfg.Resync / 3},
		pools:   map[string]*poolRun{},
		ids:     map[string]string{},
		applied: make(chan applyDone, len(cfg.Pools)),
		kick:    make(chan time.Time, 1),
	}
	for name, pl := range cfg.Pools {
		l.pools[name] = &poolRun{name: name, pool: pl, prov: cfg.Provisioners[name], replacing: map[string]bool{}, misplacedWarned: map[string]bool{}}
		l.names = append(l.names, name)
		l.met.pricePerSecond.WithLabelValues(name).Set(pl.PricePerHour / 3600)
	}
	sort.Strings(l.names)
	if cfg.Leader == nil {
		// Alone (tests, dry runs): one term for the life of the loop.
		l.term = newTerm(0)
		l.met.leader.Set(1)
	}
	return l, nil
}

// Kick asks for a decision as if a Nomad event had arrived at t.
func (l *Loop) Kick(t time.Time) {
	select {
	case l.kick <- t:
	default: // a decision is already due; it covers this one
	}
}

// Run follows events and resyncs until ctx ends. A failed step is logged
// and retried by the next trigger; only ctx ends Run. The lock is kept in
// the background (keepLease), so that no step, however long, outlives
// the leadership it acts for.
func (l *Loop) Run(ctx context.Context) error {
	if l.cfg.Events != nil {
		go l.follow(ctx)
	}
	leasing := make(chan struct{})
	go func() {
		defer close(leasing)
		if l.cfg.Leader != nil {
			l.keepLease(ctx)
		}
	}()
	resync := time.NewTicker(l.cfg.Resync)
	defer resync.Stop()
	l.Kick(time.Now())
	var wake *time.Timer
	for {
		var wakeC <-chan time.Time
		if !l.nextAt.IsZero() {
			d := l.nextAt.Sub(l.cfg.Now())
			if d < 0 {
				d = 0
			}
			if wake == nil {
				wake = time.NewTimer(d)
			} else {
				wake.Reset(d)
			}
			wakeC = wake.C
		}
		var trigger time.Time
		select {
		case <-ctx.Done():
			<-leasing
			l.shutdown()
			return nil
		case t := <-l.kick:
			trigger = l.coalesce(ctx, t)
		case <-resync.C:
			trigger = time.Now()
		case <-wakeC:
			trigger = time.Now()
		case done := <-l.applied:
			l.finishApply(ctx, done)
			trigger = time.Now()
		}
		if wake != nil && !wake.Stop() {
			select {
			case <-wake.C:
			default:
			}
		}
		if err := l.Step(ctx, trigger); err != nil && ctx.Err() == nil {
			l.log.Warn("autoscaler step failed", "err", err)
		}
	}
}

// maxCoalesce bounds how long a continuing burst delays its decision.
const maxCoalesce = 500 * time.Millisecond

// coalesce gathers a burst of kicks into one trigger (the earliest): it
// waits until no kick came for Coalesce, but no longer than maxCoalesce,
// so a thousand submissions in a row cause one decision, not a thousand.
func (l *Loop) coalesce(ctx context.Context, first time.Time) time.Time {
	limit := time.NewTimer(maxCoalesce)
	defer limit.Stop()
	quiet := time.NewTimer(l.cfg.Coalesce)
	defer quiet.Stop()
	for {
		select {
		case k := <-l.kick:
			if k.Before(first) {
				first = k
			}
			if !quiet.Stop() {
				<-quiet.C
			}
			quiet.Reset(l.cfg.Coalesce)
		case <-quiet.C:
			return first
		case <-limit.C:
			return first
		case <-ctx.Done():
			return first
		}
	}
}

// follow turns Nomad events into kicks, resubscribing after failures.
func (l *Loop) follow(ctx context.Context) {
	topics := []api.Topic{api.TopicJob, api.TopicEvaluation, api.TopicAllocation, api.TopicNode}
	nomad.Follow(ctx, l.cfg.Events, l.log, "*", topics, "deciding on resyncs only", func([]api.Event) bool {
		l.Kick(time.Now())
		return true
	})
}

func (l *Loop) shutdown() {
	// Terraform got an interrupt with ctx; it finishes the resource in
	// flight and writes state. Its outcome is not recorded (the record
	// already holds the intent), but the process must not exit under it.
	l.running.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t := l.current()
	if t == nil {
		return
	}
	if t == l.active && !l.cfg.DryRun {
		for _, name := range l.names {
			_ = l.save(ctx, l.pools[name], true)
		}
	}
	if l.cfg.Leader != nil {
		if err := l.cfg.Leader.Release(ctx); err != nil {
			l.log.Warn("could not release the autoscaler lock; the standby takes over when it expires", "err", err)
		}
		l.termMu.Lock()
		l.term = nil
		l.termMu.Unlock()
		t.cancel()
		l.met.leader.Set(0)
	}
}
