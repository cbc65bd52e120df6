package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// Nomad is what the controller needs; *nomad.Client satisfies it.
type Nomad interface {
	CaravanJobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error)
	Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error)
	LogTail(ctx context.Context, allocID, task string, stderr bool, maxBytes int64) (string, error)
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
	PutVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (*api.Variable, error)
	RecordRefs(ctx context.Context, namespace string, scope nomad.RecordScope) ([]record.Ref, error)
	Record(ctx context.Context, ref record.Ref) (*record.Run, uint64, error)
	CreateRecord(ctx context.Context, namespace string, r *record.Run) error
	Usage(ctx context.Context, ref record.Ref) (*record.Usage, error)
	CreateOutcome(ctx context.Context, ref record.Ref, o *record.Outcome) error
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Defaults of Config.
const (
	DefaultResync      = 10 * time.Minute
	defaultParallelism = 8
)

// Config configures the controller.
type Config struct {
	Nomad  Nomad
	Logger *slog.Logger
	// Resync is how often every caravan job is compared with the records
	// (0: DefaultResync); events keep them current in between.
	Resync time.Duration
	// Metrics, when set, counts what the controller does.
	Metrics *Metrics
	// Namespace limits the controller to one namespace's runs; "" means
	// every namespace the token sees.
	Namespace string
	// Holder names this process in the heartbeat it writes.
	Holder string
	// Now is the clock of the heartbeat and of outcomes; nil: time.Now.
	Now func() time.Time
}

// Controller keeps runs' history: the record of every caravan job, and the
// outcome of every run that ended.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	recorded map[string]bool // namespace/run ID of runs known to have a record
	ended    map[string]bool // namespace/run ID of runs whose outcome is recorded
}

// New builds the controller.
func New(cfg Config) *Controller {
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Namespace == "" {
		cfg.Namespace = nomad.AllNamespaces
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, log: log.With("component", "controller"), recorded: map[string]bool{}, ended: map[string]bool{}}
}

// Run keeps history until ctx ends: a full pass at start and every Resync,
// and each job the event stream shows registered or changed in between.
func (c *Controller) Run(ctx context.Context) error {
	jobs := make(chan jobRef, 256)
	go c.follow(ctx, jobs)
	resync := time.NewTimer(0)
	defer resync.Stop()
	beat := time.NewTicker(HeartbeatEvery)
	defer beat.Stop()
	c.beat(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat.C:
			c.beat(ctx)
		case <-resync.C:
			if res, err := c.Resync(ctx); err != nil {
				c.log.Warn("resync failed; retrying at the next one", "err", err, "next_in", c.cfg.Resync)
			} else if res.Records+res.Outcomes > 0 {
				c.log.Info("caught up with the cluster", "records", res.Records, "outcomes", res.Outcomes)
			}
			resync.Reset(c.cfg.Resync)
		case ref := <-jobs:
			if err := c.handle(ctx, ref); err != nil {
				c.log.Warn("keeping a run's history failed; the next resync retries", "job", ref.id, "namespace", ref.ns, "err", err)
			}
		}
	}
}

// ResyncResult says what a Resync wrote.
type ResyncResult struct {
	Records, Outcomes int
}

// Resync compares every caravan job with the records: it writes the
// record of each job that has none, and the outcome of each run that ended
// without one.
func (c *Controller) Resync(ctx context.Context) (ResyncResult, error) {
	start := time.Now()
	var res ResyncResult
	stubs, err := c.cfg.Nomad.CaravanJobs(ctx, c.cfg.Namespace)
	if err != nil {
		return res, err
	}
	refs, err := c.cfg.Nomad.RecordRefs(ctx, c.cfg.Namespace, nomad.RecordScope{All: true})
	if err != nil {
		return res, err
	}
	recorded := make(map[string]bool, len(refs))
	ended := map[string]bool{}
	for _, ref := range refs {
		recorded[key(ref.Namespace, ref.RunID)] = true
		if ref.Ended {
			ended[key(ref.Namespace, ref.RunID)] = true
		}
	}
	c.mu.Lock()
	c.recorded, c.ended = recorded, ended
	c.mu.Unlock()
	var missing, over []jobRef
	for _, j := range stubs {
		k := key(j.Namespace, runID(j.ID, j.Meta))
		if !recorded[k] {
			missing = append(missing, jobRef{ns: j.Namespace, id: j.ID})
		}
		if j.Status == "dead" && !ended[k] {
			over = append(over, jobRef{ns: j.Namespace, id: j.ID})
		}
	}
	var firstErr error
	res.Records, firstErr = c.each(ctx, missing, c.ensureJob)
	n, err := c.each(ctx, over, c.finishJob)
	res.Outcomes = n
	if firstErr == nil {
		firstErr = err
	}
	c.cfg.Metrics.resynced(time.Since(start), firstErr)
	return res, firstErr
}

// handle keeps the history of one job the event stream announced: its
// record, and its outcome once it has ended.
func (c *Controller) handle(ctx context.Context, ref jobRef) error {
	if err := c.ensureJob(ctx, ref); err != nil {
		return err
	}
	return c.finishJob(ctx, ref)
}

// each calls do for every job, a few at a time, and returns how many it
// did and the first error after trying all.
func (c *Controller) each(ctx context.Context, refs []jobRef, do func(context.Context, jobRef) error) (int, error) {
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, defaultParallelism)
	for _, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := do(ctx, ref)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				done++
			case firstErr == nil:
				firstErr = err
			}
		})
	}
	wg.Wait()
	return done, firstErr
}

// follow sends every caravan job the event stream shows registered, or
// whose allocations changed, resubscribing after failures from the last
// index seen.
func (c *Controller) follow(ctx context.Context, out chan<- jobRef) {
	nomad.Follow(ctx, c.cfg.Nomad, c.log, c.cfg.Namespace, []api.Topic{api.TopicJob, api.TopicAllocation},
		"keeping history on resyncs only", func(evs []api.Event) bool {
			for _, ev := range evs {
				ref, ok := jobOf(ev)
				if !ok {
					continue
				}
				select {
				case out <- ref:
				case <-ctx.Done():
					return false
				}
			}
			return true
		})
}

// jobOf is the caravan job an event is about: a job registered, or an
// allocation of a caravan job that reached a terminal state.
func jobOf(ev api.Event) (jobRef, bool) {
	switch ev.Topic {
	case api.TopicJob:
		job, err := ev.Job()
		if ev.Type != "JobRegistered" || err != nil || job == nil || job.ID == nil || !nomad.IsCaravanJob(job.Meta) {
			return jobRef{}, false
		}
		return jobRef{ns: deref(job.Namespace), id: *job.ID}, true
	case api.TopicAllocation:
		a, err := ev.Allocation()
		if err != nil || a == nil || !a.ClientTerminalStatus() {
			return jobRef{}, false
		}
		if a.Job != nil && !nomad.IsCaravanJob(a.Job.Meta) {
			return jobRef{}, false
		}
		return jobRef{ns: a.Namespace, id: a.JobID}, true
	}
	return jobRef{}, false
}

// jobRef names a job the controller should keep the history of.
type jobRef struct{ ns, id string }

func key(namespace, runID string) string { return namespace + "/" + runID }

// runID is a job's run ID: its meta's, else its job ID.
func runID(jobID string, meta map[string]string) string {
	if id := meta[record.MetaRunID]; id != "" {
		return id
	}
	return jobID
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
