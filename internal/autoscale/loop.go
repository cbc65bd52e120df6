package autoscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// NodeActor is the Nomad node operations the loop performs.
// *nomad.Client satisfies it.
type NodeActor interface {
	SetEligibility(ctx context.Context, nodeID string, eligible bool) error
	DrainNode(ctx context.Context, nodeID string, deadline time.Duration, meta map[string]string) error
	CancelDrain(ctx context.Context, nodeID string, markEligible bool) error
}

// EventSource is Nomad's event stream. *nomad.Client satisfies it.
type EventSource interface {
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Nomad is everything the loop needs from Nomad but the event stream.
type Nomad interface {
	ClusterReader
	NodeActor
	VariableStore
}

// Provisioner makes a pool's machines. *terraform.Workspace satisfies it.
type Provisioner interface {
	Apply(ctx context.Context, nodes []string) (terraform.ApplyResult, error)
	Nodes(ctx context.Context) ([]string, error)
}

// Leader is a lock that lets one of several autoscalers act.
// *nomad.Lease satisfies it.
type Leader interface {
	TryAcquire(ctx context.Context) (bool, error)
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
}

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
	// Policy tunes Decide; nil means DefaultPolicy.
	Policy *Policy
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
	// LeaderPoll is how often the lock is renewed or tried (default 5 s).
	LeaderPoll time.Duration
	// SyncApply runs Terraform inside Step instead of in the background
	// (tests that step by hand).
	SyncApply bool
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
	// Holder names this process in records.
	Holder string
}

// Loop observes Nomad, decides, and acts. Create it with NewLoop.
type Loop struct {
	cfg    Config
	obs    *Observer
	policy Policy
	log    *slog.Logger
	met    *Metrics
	pools  map[string]*poolRun
	names  []string
	ids    map[string]string // node name -> Nomad node ID, last observed
	leader bool
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
	requested map[string]time.Time
	seen      map[string]time.Time
	memory    Memory
	last      RecordedDecision
	lastPrint string
	tf        TerraformStatus
	failures  int
	applying  bool
	replacing map[string]bool // failed names on their way out of state
	view      PoolView
	state     PoolState
	wakeAt    time.Time
	// accounting
	lastAccount time.Time
	cost        *CostRecord
	costSaved   time.Time
	recordSaved time.Time
	dirty       bool
}

type applyDone struct {
	pool   string
	target []string
	res    terraform.ApplyResult
	err    error
	at     time.Time
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
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 50 * time.Millisecond
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 5 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.LeaderPoll <= 0 {
		cfg.LeaderPoll = 5 * time.Second
	}
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
	p := DefaultPolicy()
	if cfg.Policy != nil {
		p = *cfg.Policy
	}
	l := &Loop{
		cfg: cfg, policy: p, log: cfg.Logger, met: cfg.Metrics,
		obs:     &Observer{Nomad: cfg.Nomad, Namespace: cfg.JobNamespace},
		pools:   map[string]*poolRun{},
		ids:     map[string]string{},
		applied: make(chan applyDone, len(cfg.Pools)),
		kick:    make(chan time.Time, 1),
		leader:  cfg.Leader == nil,
	}
	for name, pl := range cfg.Pools {
		l.pools[name] = &poolRun{name: name, pool: pl, prov: cfg.Provisioners[name], replacing: map[string]bool{}}
		l.names = append(l.names, name)
		l.met.pricePerSecond.WithLabelValues(name).Set(pl.PricePerHour / 3600)
	}
	sort.Strings(l.names)
	if l.leader {
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
// and retried by the next trigger; only ctx ends Run.
func (l *Loop) Run(ctx context.Context) error {
	if l.cfg.Events != nil {
		go l.follow(ctx)
	}
	resync := time.NewTicker(l.cfg.Resync)
	defer resync.Stop()
	poll := time.NewTicker(l.cfg.LeaderPoll)
	defer poll.Stop()
	l.checkLeader(ctx)
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
			l.shutdown()
			return nil
		case t := <-l.kick:
			trigger = l.coalesce(ctx, t)
		case <-resync.C:
			trigger = time.Now()
		case <-wakeC:
			trigger = time.Now()
		case <-poll.C:
			l.checkLeader(ctx)
			continue
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
		if !l.leader {
			continue
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
	backoff := time.Second
	topics := []api.Topic{api.TopicJob, api.TopicEvaluation, api.TopicAllocation, api.TopicNode}
	for ctx.Err() == nil {
		ch, err := l.cfg.Events.Events(ctx, "*", 0, topics...)
		if err != nil {
			l.log.Warn("event stream unavailable; deciding on resyncs only until it is back", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		for evs := range ch {
			if evs == nil {
				continue
			}
			if evs.Err != nil {
				l.log.Warn("event stream broke; resubscribing", "err", evs.Err)
				break
			}
			if len(evs.Events) > 0 {
				l.Kick(time.Now())
			}
		}
		sleep(ctx, backoff)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// checkLeader acquires or renews the lock; losing it stops acting at once.
func (l *Loop) checkLeader(ctx context.Context) {
	if l.cfg.Leader == nil {
		return
	}
	was := l.leader
	if l.leader {
		if err := l.cfg.Leader.Renew(ctx); err != nil {
			l.log.Warn("lost the autoscaler lock; standing by", "err", err)
			l.leader = false
		}
	} else {
		ok, err := l.cfg.Leader.TryAcquire(ctx)
		if err != nil {
			l.log.Warn("cannot read the autoscaler lock", "err", err)
		}
		l.leader = ok
	}
	if l.leader && !was {
		l.log.Info("holding the autoscaler lock; acting", "holder", l.cfg.Holder)
		// Another process may have acted since we last looked.
		for _, p := range l.pools {
			p.loaded = false
		}
		l.Kick(time.Now())
	}
	if l.leader {
		l.met.leader.Set(1)
	} else {
		l.met.leader.Set(0)
	}
}

func (l *Loop) shutdown() {
	// Terraform got an interrupt with ctx; it finishes the resource in
	// flight and writes state. Its outcome is not recorded (the record
	// already holds the intent), but the process must not exit under it.
	l.running.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l.leader && !l.cfg.DryRun {
		for _, name := range l.names {
			l.save(ctx, l.pools[name], true)
		}
	}
	if l.cfg.Leader != nil && l.leader {
		if err := l.cfg.Leader.Release(ctx); err != nil {
			l.log.Warn("could not release the autoscaler lock; the standby takes over when it expires", "err", err)
		}
	}
}

// Step observes, decides and acts once. trigger is when the event that
// caused it arrived (for the decision latency metric).
func (l *Loop) Step(ctx context.Context, trigger time.Time) error {
	now := l.cfg.Now()
	var errs []error
	in := map[string]PoolInput{}
	for _, name := range l.names {
		p := l.pools[name]
		if !p.loaded {
			if err := l.load(ctx, p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		in[name] = PoolInput{Pool: p.pool, InState: p.inState, Requested: p.requested, Seen: p.seen, Memory: p.memory}
	}
	if len(in) == 0 {
		return errors.Join(errs...)
	}
	st, views, err := l.obs.Observe(ctx, now, in)
	if err != nil {
		l.met.observeErrors.Inc()
		// Deciding on an old picture could remove a node that took work
		// since: with Nomad unreachable, nothing is decided at all.
		l.nextAt = now.Add(l.cfg.BackoffMin)
		return errors.Join(append(errs, fmt.Errorf("nomad unreachable or failing, not deciding (no scale-in on stale data): %w", err))...)
	}
	for _, name := range l.names {
		if ps, ok := st.Pools[name]; ok {
			p := l.pools[name]
			p.view, p.state = views[name], ps
			for _, n := range ps.Nodes {
				l.ids[n.Name] = n.ID
				if _, ok := p.seen[n.Name]; !ok {
					p.seen[n.Name] = now
					p.dirty = true
				}
				if _, ok := p.requested[n.Name]; ok {
					delete(p.requested, n.Name)
					p.dirty = true
				}
			}
			l.account(p, now)
		}
	}
	decisions := l.policy.Decide(st)
	l.met.decision.Observe(max(time.Since(trigger), 0).Seconds())
	l.nextAt = time.Time{}
	for _, d := range decisions {
		p := l.pools[d.Pool]
		l.report(p, d, now)
		if l.cfg.DryRun {
			l.printDry(p, d)
			continue
		}
		if err := l.act(ctx, p, d, now); err != nil {
			errs = append(errs, err)
		}
		p.wakeAt = d.WakeAt
		l.wakeAt(d.WakeAt)
		if !p.tf.NextRetryAt.IsZero() {
			l.wakeAt(p.tf.NextRetryAt)
		}
		l.save(ctx, p, false)
	}
	return errors.Join(errs...)
}

func (l *Loop) wakeAt(t time.Time) {
	if !t.IsZero() && (l.nextAt.IsZero() || t.Before(l.nextAt)) {
		l.nextAt = t
	}
}

// load reads a pool's record and Terraform state, to resume where the
// previous leader (or this process before a restart) left off.
func (l *Loop) load(ctx context.Context, p *poolRun) error {
	rec, ok, err := LoadPoolRecord(ctx, l.cfg.Nomad, l.cfg.Namespace, p.name)
	if err != nil {
		return fmt.Errorf("pool %q: %w", p.name, err)
	}
	names, err := p.prov.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("pool %q: read Terraform state: %w", p.name, err)
	}
	p.inState = names
	p.requested, p.seen = map[string]time.Time{}, map[string]time.Time{}
	if ok {
		p.memory = rec.Memory
		p.last = rec.Last
		p.tf = rec.Terraform
		p.failures = rec.Terraform.Failures
		for k, v := range rec.Requested {
			p.requested[k] = v
		}
		for k, v := range rec.Seen {
			p.seen[k] = v
		}
		if len(p.requested) > 0 {
			l.log.Info("resuming: machines asked for before a restart are kept under their names", "pool", p.name, "requested", sortedKeys(p.requested))
		}
	}
	if p.cost == nil {
		date := l.cfg.Now().UTC().Format(time.DateOnly)
		var c CostRecord
		if ok, err := loadJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, costPath(p.name, date), &c); err == nil && ok {
			p.cost = &c
		}
	}
	p.loaded = true
	return nil
}

// act carries out one decision: Nomad node operations first, then the
// Terraform apply of the target set (in the background unless SyncApply).
func (l *Loop) act(ctx context.Context, p *poolRun, d Decision, now time.Time) error {
	var errs []error
	failedNodes := map[string]bool{}
	for _, a := range d.Actions {
		for _, n := range a.Nodes {
			id := l.ids[n]
			if id == "" {
				continue
			}
			var err error
			switch a.Kind {
			case MarkEligible:
				if nodeDraining(p.state, n) {
					err = l.cfg.Nomad.CancelDrain(ctx, id, true)
				} else {
					err = l.cfg.Nomad.SetEligibility(ctx, id, true)
				}
			case MarkIneligible:
				err = l.cfg.Nomad.SetEligibility(ctx, id, false)
			case Drain:
				err = l.cfg.Nomad.DrainNode(ctx, id, a.Deadline, map[string]string{"caravan": "scale-in", "caravan_reason": a.Reason})
			default:
				continue
			}
			if err != nil {
				failedNodes[n] = true
				errs = append(errs, fmt.Errorf("pool %q: %s node %s: %w", p.name, a.Kind, n, err))
			}
		}
		if a.Kind == Replace {
			for _, n := range a.Nodes {
				// Decisions repeat while the apply runs: count once.
				if !p.replacing[n] {
					p.replacing[n] = true
					l.met.failed.WithLabelValues(p.name).Inc()
					l.log.Warn("machine failed; replacing it", "pool", p.name, "node", n, "reason", a.Reason)
				}
			}
		}
	}
	mem := d.Memory
	if len(failedNodes) > 0 {
		// Forget marks that did not happen, so the next decision does
		// not take a node for drained that Nomad never drained.
		mem.Cordoned, mem.Draining = maps.Clone(mem.Cordoned), maps.Clone(mem.Draining)
		for n := range failedNodes {
			delete(mem.Draining, n)
			delete(mem.Cordoned, n)
		}
		p.memory = mem
		p.dirty = true
		return errors.Join(errs...)
	}
	p.memory = mem
	if d.Changed() {
		p.dirty = true
	}

	target := d.TargetNodes
	// After a failure the apply is retried even when the state lists the
	// target: a resource whose creation failed is in state, tainted, and
	// only another apply replaces it.
	if slices.Equal(target, p.inState) && !missing(p.requested, p.inState) && p.failures == 0 {
		return nil
	}
	if p.applying {
		return nil // the running apply is followed by a new decision
	}
	if now.Before(p.tf.NextRetryAt) {
		return nil
	}
	// Record the intent before Terraform runs: a process killed mid-apply
	// resumes with the same names instead of inventing new ones.
	inTarget := map[string]bool{}
	for _, n := range target {
		inTarget[n] = true
		if !slices.Contains(p.inState, n) {
			if _, ok := p.requested[n]; !ok && !slices.Contains(nodeNames(p.state.Nodes), n) {
				p.requested[n] = now
			}
		}
	}
	for n := range p.requested {
		if !inTarget[n] {
			delete(p.requested, n)
		}
	}
	p.dirty = true
	l.save(ctx, p, true)
	p.applying = true
	if l.cfg.SyncApply {
		res, err := p.prov.Apply(ctx, target)
		l.finishApply(ctx, applyDone{pool: p.name, target: target, res: res, err: err, at: l.cfg.Now()})
		return nil
	}
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		res, err := p.prov.Apply(ctx, target)
		select {
		case l.applied <- applyDone{pool: p.name, target: target, res: res, err: err, at: l.cfg.Now()}:
		case <-ctx.Done():
		}
	}()
	return nil
}

// finishApply records an apply's outcome; a failure schedules a retry with
// exponential backoff and says why.
func (l *Loop) finishApply(ctx context.Context, done applyDone) {
	p := l.pools[done.pool]
	p.applying = false
	l.met.applySeconds.WithLabelValues(p.name).Observe(done.res.Took.Seconds())
	if done.err != nil {
		p.failures++
		back := l.cfg.BackoffMin << min(p.failures-1, 20)
		if back > l.cfg.BackoffMax || back <= 0 {
			back = l.cfg.BackoffMax
		}
		p.tf.Failures = p.failures
		p.tf.LastError = done.err.Error()
		p.tf.NextRetryAt = done.at.Add(back)
		l.met.applyFailures.WithLabelValues(p.name).Inc()
		l.log.Error("terraform apply failed; retrying", "pool", p.name, "attempt", p.failures, "retry_in", back, "err", done.err)
		if names, err := p.prov.Nodes(ctx); err == nil {
			p.inState = names
		}
		l.wakeAt(p.tf.NextRetryAt)
		p.dirty = true
		l.save(ctx, p, true)
		return
	}
	before := p.inState
	p.inState = done.res.Nodes
	added, removed := diff(before, p.inState)
	l.met.created.WithLabelValues(p.name).Add(float64(len(added)))
	l.met.removed.WithLabelValues(p.name).Add(float64(len(removed)))
	if p.failures > 0 {
		l.log.Info("terraform apply succeeded after failures", "pool", p.name, "failures", p.failures)
	}
	p.failures = 0
	p.tf = TerraformStatus{LastApply: done.at}
	if len(added)+len(removed) > 0 {
		l.log.Info("terraform applied", "pool", p.name, "added", added, "removed", removed, "nodes", p.inState, "took", done.res.Took.Round(time.Millisecond))
	}
	for _, n := range removed {
		delete(p.seen, n)
		delete(l.ids, n)
		if p.replacing[n] {
			delete(p.replacing, n)
			l.met.replaced.WithLabelValues(p.name).Inc()
		}
	}
	p.dirty = true
	l.save(ctx, p, true)
}

// report logs a decision and updates the per-pool gauges.
func (l *Loop) report(p *poolRun, d Decision, now time.Time) {
	counts := nodeCounts(p.state)
	l.met.setNodes(p.name, counts)
	l.met.pending.WithLabelValues(p.name).Set(float64(len(p.state.Pending)))
	l.met.unschedulable.WithLabelValues(p.name).Set(float64(len(d.Unschedulable)))
	if d.Changed() || p.last.Time.IsZero() {
		p.last = RecordedDecision{Time: now, Reason: d.Reason, Actions: d.Actions, Target: d.TargetNodes}
	}
	attrs := []any{"pool", p.name, "reason", d.Reason, "target", d.TargetNodes, "pending", len(p.state.Pending)}
	if d.Changed() {
		l.log.Info("decision", append(attrs, "actions", describeActions(d.Actions))...)
	} else {
		l.log.Debug("decision", attrs...)
	}
	for _, r := range d.Unschedulable {
		l.log.Warn("queued run can never fit one node of the pool; not scaling for it", "pool", p.name, "run", r.RunID, "job", r.JobID,
			"gpus", r.Resources.GPUs, "cpu_mhz", r.Resources.CPU, "memory_bytes", r.Resources.Memory)
	}
}

func (l *Loop) printDry(p *poolRun, d Decision) {
	line := fmt.Sprintf("pool %s: %s; target %v", p.name, d.Reason, d.TargetNodes)
	if d.Changed() {
		line = fmt.Sprintf("pool %s: %s; %s; target %v", p.name, d.Reason, describeActions(d.Actions), d.TargetNodes)
	}
	if line != p.lastPrint {
		fmt.Fprintf(l.cfg.DryRunOut, "%s [dry-run] %s\n", l.cfg.Now().UTC().Format(time.RFC3339), line)
		p.lastPrint = line
	}
	// A dry run never acts, so memory advances as if it had: the next
	// decision then shows what would follow.
	p.memory = d.Memory
}

func describeActions(as []Action) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s %s", a.Kind, strings.Join(a.Nodes, ",")))
	}
	return strings.Join(parts, "; ")
}

func nodeCounts(ps PoolState) map[string]int {
	c := map[string]int{"booting": len(ps.Booting)}
	for _, n := range ps.Nodes {
		switch {
		case n.Status == NodeDown || n.Status == NodeDisconnected:
			c["down"]++
		case n.Status != NodeReady:
			c["initializing"]++
		case n.Draining || (!n.Eligible && n.Allocs == 0 && isDrainingMark(ps.Memory, n.Name)):
			c["draining"]++
		case !n.Eligible:
			c["cordoned"]++
		default:
			c["ready"]++
		}
	}
	return c
}

func isDrainingMark(m Memory, name string) bool {
	_, ok := m.Draining[name]
	return ok
}

func nodeDraining(ps PoolState, name string) bool {
	for _, n := range ps.Nodes {
		if n.Name == name {
			return n.Draining
		}
	}
	return false
}

func nodeNames(ns []Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

func diff(before, after []string) (added, removed []string) {
	for _, n := range after {
		if !slices.Contains(before, n) {
			added = append(added, n)
		}
	}
	for _, n := range before {
		if !slices.Contains(after, n) {
			removed = append(removed, n)
		}
	}
	return added, removed
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// missing reports whether a requested name is not in state yet (an apply
// that failed or was cut short).
func missing(requested map[string]time.Time, inState []string) bool {
	for n := range requested {
		if !slices.Contains(inState, n) {
			return true
		}
	}
	return false
}
