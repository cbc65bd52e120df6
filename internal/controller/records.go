package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// Nomad is what the records controller needs; *nomad.Client satisfies it.
type Nomad interface {
	CaravanJobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	RecordRefs(ctx context.Context, namespace string, scope nomad.RecordScope) ([]record.Ref, error)
	CreateRecord(ctx context.Context, namespace string, r *record.Run) error
	PutVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (*api.Variable, error)
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Defaults of RecordsConfig.
const (
	DefaultResync      = 10 * time.Minute
	defaultParallelism = 8
)

// RecordsConfig configures the records controller.
type RecordsConfig struct {
	Nomad  Nomad
	Logger *slog.Logger
	// Resync is how often every caravan job is compared with the records
	// (0: DefaultResync); events keep records current in between.
	Resync time.Duration
	// Metrics, when set, counts what the controller does.
	Metrics *Metrics
	// Namespace limits the controller to one namespace's runs; "" means
	// every namespace the token sees.
	Namespace string
	// Holder names this process in the heartbeat it writes.
	Holder string
	// Now is the clock of the heartbeat; nil means time.Now.
	Now func() time.Time
}

// Records writes the record of every caravan job that has none.
type Records struct {
	cfg RecordsConfig
	log *slog.Logger

	mu       sync.Mutex
	recorded map[string]bool // namespace/run ID of runs known to have a record
}

// NewRecords builds the records controller.
func NewRecords(cfg RecordsConfig) *Records {
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
	return &Records{cfg: cfg, log: log.With("controller", "records"), recorded: map[string]bool{}}
}

// Run keeps records until ctx ends: a full pass at start and every Resync,
// and each job the event stream announces in between.
func (r *Records) Run(ctx context.Context) error {
	jobs := make(chan jobRef, 256)
	go r.follow(ctx, jobs)
	resync := time.NewTimer(0)
	defer resync.Stop()
	beat := time.NewTicker(HeartbeatEvery)
	defer beat.Stop()
	r.beat(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat.C:
			r.beat(ctx)
		case <-resync.C:
			if n, err := r.Resync(ctx); err != nil {
				r.log.Warn("records resync failed; retrying at the next one", "err", err, "next_in", r.cfg.Resync)
			} else if n > 0 {
				r.log.Info("wrote missing run records", "records", n)
			}
			resync.Reset(r.cfg.Resync)
		case ref := <-jobs:
			if err := r.ensureJob(ctx, ref); err != nil {
				r.log.Warn("writing a run record failed; the next resync retries", "job", ref.id, "namespace", ref.ns, "err", err)
			}
		}
	}
}

// Resync writes the record of every caravan job, in every namespace, that
// has none, and returns how many it wrote.
func (r *Records) Resync(ctx context.Context) (int, error) {
	start := time.Now()
	stubs, err := r.cfg.Nomad.CaravanJobs(ctx, r.cfg.Namespace)
	if err != nil {
		return 0, err
	}
	refs, err := r.cfg.Nomad.RecordRefs(ctx, r.cfg.Namespace, nomad.RecordScope{All: true})
	if err != nil {
		return 0, err
	}
	have := make(map[string]bool, len(refs))
	for _, ref := range refs {
		have[key(ref.Namespace, ref.RunID)] = true
	}
	var missing []*api.JobListStub
	for _, j := range stubs {
		if !have[key(j.Namespace, runID(j.ID, j.Meta))] {
			missing = append(missing, j)
		}
	}
	r.mu.Lock()
	r.recorded = have
	r.mu.Unlock()
	written, err := r.writeMissing(ctx, missing)
	r.cfg.Metrics.resynced(time.Since(start), err)
	return written, err
}

// writeMissing reads each job in full (a record keeps the job) and writes
// its record, a few at a time; it returns the first error after trying all.
func (r *Records) writeMissing(ctx context.Context, stubs []*api.JobListStub) (int, error) {
	var (
		mu       sync.Mutex
		firstErr error
		written  int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, defaultParallelism)
	for _, s := range stubs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := r.ensureJob(ctx, jobRef{ns: s.Namespace, id: s.ID})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			} else if err == nil {
				written++
			}
		})
	}
	wg.Wait()
	return written, firstErr
}

// jobRef names a job the controller should record.
type jobRef struct{ ns, id string }

// ensureJob reads the job in full from Nomad (a record keeps the job as
// Nomad has it; the event stream's copy of a job is decoded loosely by the
// api package and loses fields) and writes its record. A job purged since
// it was seen is no error.
func (r *Records) ensureJob(ctx context.Context, ref jobRef) error {
	r.mu.Lock()
	known := r.recorded[key(ref.ns, ref.id)]
	r.mu.Unlock()
	if known {
		return nil
	}
	job, err := r.cfg.Nomad.Job(ctx, ref.ns, ref.id)
	if errors.Is(err, nomad.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return r.ensure(ctx, job)
}

// ensure writes job's record unless it is known to exist. A record that
// exists already (another controller, or an older caravan that wrote it at
// apply time) is left as it is: history is never overwritten.
func (r *Records) ensure(ctx context.Context, job *api.Job) error {
	if job == nil || !nomad.IsCaravanJob(job.Meta) {
		return nil
	}
	rec, err := query.RecordOf(job)
	if err != nil {
		return err
	}
	k := key(rec.Namespace, rec.RunID)
	r.mu.Lock()
	known := r.recorded[k]
	r.mu.Unlock()
	if known {
		return nil
	}
	err = r.cfg.Nomad.CreateRecord(ctx, rec.Namespace, rec)
	switch {
	case errors.Is(err, nomad.ErrConflict):
	case err != nil:
		r.cfg.Metrics.failed()
		return fmt.Errorf("write the record of run %s: %w", rec.RunID, err)
	default:
		r.cfg.Metrics.wrote()
	}
	r.mu.Lock()
	r.recorded[k] = true
	r.mu.Unlock()
	return nil
}

// follow sends every caravan job the event stream shows registered,
// resubscribing after failures from the last index seen.
func (r *Records) follow(ctx context.Context, out chan<- jobRef) {
	backoff := time.Second
	var next uint64
	for ctx.Err() == nil {
		ch, err := r.cfg.Nomad.Events(ctx, r.cfg.Namespace, next, api.TopicJob)
		if err != nil {
			r.log.Warn("event stream unavailable; writing records on resyncs only until it is back", "err", err, "retry_in", backoff)
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
				r.log.Warn("event stream broke; resubscribing", "err", evs.Err)
				break
			}
			next = max(next, evs.Index+1)
			for _, ev := range evs.Events {
				if ev.Type != "JobRegistered" {
					continue
				}
				job, err := ev.Job()
				if err != nil || job == nil || job.ID == nil || !nomad.IsCaravanJob(job.Meta) {
					continue
				}
				select {
				case out <- jobRef{ns: deref(job.Namespace), id: *job.ID}:
				case <-ctx.Done():
					return
				}
			}
		}
		sleep(ctx, backoff)
	}
}

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

// The heartbeat says that a controller keeps records in this cluster:
// apply, which no longer writes records itself, warns when it is stale.
const (
	HeartbeatPath  = "caravan/controller/heartbeat"
	HeartbeatEvery = time.Minute
)

func (r *Records) beat(ctx context.Context) {
	items := map[string]string{"holder": r.cfg.Holder, "at": r.cfg.Now().UTC().Format(time.RFC3339)}
	if _, err := r.cfg.Nomad.PutVariable(ctx, "default", HeartbeatPath, items, nomad.NoCAS); err != nil {
		r.log.Warn("writing the controller heartbeat failed", "path", HeartbeatPath, "err", err)
	}
}

// Heartbeat reads when a controller last said it keeps records; zero when
// none ever did.
func Heartbeat(ctx context.Context, v interface {
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
}) (time.Time, error) {
	got, err := v.Variable(ctx, "default", HeartbeatPath)
	if errors.Is(err, nomad.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, _ := time.Parse(time.RFC3339, got.Items["at"])
	return t, nil
}
