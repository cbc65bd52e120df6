package agent

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/record"
)

// Sampler keeps a usage summary of every caravan run on the node and
// writes it to Nomad every FlushEvery and when the run ends.
type Sampler struct {
	agent      *Agent
	store      UsageStore
	interval   time.Duration
	flushEvery time.Duration
	log        *slog.Logger
	runs       map[string]*runSummary // by allocation ID
	prevNet    []netDev
	prevTime   time.Time
	xidCursor  uint64
}

// runSummary is one run's summary in the making.
type runSummary struct {
	u         record.Usage
	namespace string
	utilSum   float64
	utilN     int
	uuids     map[string]bool
	tl        *timeline
	lastFlush time.Time
	missing   int // consecutive samples without the run, when the agent has no node ID to list allocations
	// last holds the latest readings; a sample whose source failed repeats
	// them in the timeline rather than recording a false drop to zero.
	last point
}

// missingLimit is how many samples a run may be unseen (by an agent with
// no node ID, so no allocation list to say it ended) before its summary is
// finalised.
const missingLimit = 3

// maxRunXIDs bounds the XID events kept in one run's summary. A failing
// GPU can repeat an XID for hours; the first events name the fault, and an
// unbounded list would outgrow the Nomad variable the summary lives in.
const maxRunXIDs = 128

// NewSampler samples a every interval (default 5 s) and writes summaries
// to store (nil: keep them only in memory) every flushEvery (default 1 min).
func NewSampler(a *Agent, store UsageStore, interval, flushEvery time.Duration) *Sampler {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if flushEvery <= 0 {
		flushEvery = time.Minute
	}
	return &Sampler{agent: a, store: store, interval: interval, flushEvery: flushEvery,
		log: a.cfg.Logger, runs: map[string]*runSummary{}}
}

// Run samples until ctx ends, then writes every open summary once more.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			// The run may well still be going: write what we have, not
			// final, so the record is current while the agent is away. A
			// restarted agent does not resume it: its first flush starts the
			// run's summary afresh.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			for _, id := range s.runIDs() {
				s.flush(fctx, s.runs[id], false)
			}
			cancel()
			return nil
		case <-t.C:
		}
	}
}

func (s *Sampler) runIDs() []string {
	ids := make([]string, 0, len(s.runs))
	for id := range s.runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Sample takes one snapshot and folds it into the summaries, writing those
// that are due.
func (s *Sampler) Sample(ctx context.Context) {
	snap := s.agent.Snapshot(ctx)
	rx, tx := s.netRates(snap)
	var xids []gpu.XID
	if r := s.agent.cfg.GPU; r != nil {
		xids = r.XIDsSince(s.xidCursor)
		if len(xids) > 0 {
			s.xidCursor = xids[len(xids)-1].Seq
		}
	}
	seen := map[string]bool{}
	for _, au := range snap.Allocs {
		seen[au.ID] = true
		rs := s.runs[au.ID]
		if rs == nil {
			rs = &runSummary{namespace: au.Namespace, uuids: map[string]bool{}, tl: newTimeline(record.MaxTimelinePoints), lastFlush: snap.Time,
				u: record.Usage{RunID: au.RunID, Project: au.Project, AllocID: au.ID, Node: s.agent.cfg.Node, Start: snap.Time, IntervalS: s.interval.Seconds()}}
			s.runs[au.ID] = rs
		}
		rs.missing = 0
		rs.add(snap, au, rx, tx, xids)
		if snap.Time.Sub(rs.lastFlush) >= s.flushEvery {
			// Due times are counted in sample times: stamping the flush
			// with the wall clock (a little after the snapshot) pushed each
			// write one sample later than the last, every 65 s, not 60.
			rs.lastFlush = snap.Time
			s.flush(ctx, rs, false)
		}
	}
	for _, id := range s.runIDs() {
		if seen[id] {
			continue
		}
		rs := s.runs[id]
		// A listed node that lacks the allocation means the run is over.
		// When the list was due but failed, nothing is known: a run with no
		// GPU process at the moment (loading data, checkpointing) must not be
		// finalised, because the next sample would start a fresh summary
		// that overwrites this one. Only an agent with no node ID to list
		// takes a run unseen for a while as over.
		ended := snap.AllocsListed
		if !ended {
			if s.agent.cfg.NodeID != "" {
				continue
			}
			rs.missing++
			ended = rs.missing >= missingLimit
		}
		if ended {
			s.flush(ctx, rs, true)
			delete(s.runs, id)
		}
	}
}

// netRates turns the host's byte counters into rates since the last sample.
func (s *Sampler) netRates(snap *Snapshot) (rx, tx float64) {
	defer func() { s.prevNet, s.prevTime = snap.Net, snap.Time }()
	dt := snap.Time.Sub(s.prevTime).Seconds()
	if s.prevNet == nil || dt <= 0 {
		return 0, 0
	}
	prev := map[string]netDev{}
	for _, n := range s.prevNet {
		prev[n.Name] = n
	}
	for _, n := range snap.Net {
		if p, ok := prev[n.Name]; ok && n.RxByte >= p.RxByte && n.TxByte >= p.TxByte {
			rx += float64(n.RxByte - p.RxByte)
			tx += float64(n.TxByte - p.TxByte)
		}
	}
	return rx / dt, tx / dt
}

// add folds one sample of the run into its summary.
func (rs *runSummary) add(snap *Snapshot, au *AllocUse, rx, tx float64, xids []gpu.XID) {
	u := &rs.u
	u.Samples++
	u.End = snap.Time
	var util, mem, memTotal float64
	n := 0
	for _, gi := range au.GPUs {
		g := snap.GPUs[gi]
		rs.uuids[g.UUID] = true
		if g.Err != nil || math.IsNaN(g.Util) {
			continue
		}
		util += g.Util
		mem += runGPUMem(snap, au, g)
		memTotal += float64(g.MemTotal)
		n++
	}
	if n == 0 {
		util, mem = rs.last[colGPUUtil], rs.last[colGPUMem]
	} else {
		util /= float64(n)
		rs.utilSum += util
		rs.utilN++
		u.GPUUtilMean = rs.utilSum / float64(rs.utilN)
		u.GPUUtilPeak = max(u.GPUUtilPeak, util)
		u.GPUMemPeak = max(u.GPUMemPeak, int64(mem))
		u.GPUMemTotal = max(u.GPUMemTotal, int64(memTotal))
	}
	u.GPUs = max(au.allocInfo.GPUs, len(rs.uuids))
	u.GPUUUIDs = u.GPUUUIDs[:0]
	for id := range rs.uuids {
		u.GPUUUIDs = append(u.GPUUUIDs, id)
	}
	slices.Sort(u.GPUUUIDs)
	u.MemLimit = au.MemLimit
	rss, cpu := rs.last[colRSS], rs.last[colCPU]
	if au.Usage != nil {
		if m := au.Usage.MemoryStats; m != nil {
			rss = float64(m.RSS)
			u.RSSPeak = max(u.RSSPeak, int64(m.RSS))
		}
		if c := au.Usage.CpuStats; c != nil {
			cpu = c.Percent / 100
		}
	}
	for _, x := range xids {
		if rs.uuids[x.UUID] && len(u.XIDs) < maxRunXIDs {
			u.XIDs = append(u.XIDs, record.XID{Time: x.Time, UUID: x.UUID, Code: x.Code})
		}
	}
	rs.last = point{snap.Time.Sub(u.Start).Seconds(), util, mem, rss, cpu, rx, tx}
	rs.tl.add(rs.last)
}

// flush writes the summary; a failed write is logged and retried at the
// next flush (a final one is lost only if its single try fails).
func (s *Sampler) flush(ctx context.Context, rs *runSummary, final bool) {
	u := rs.usage(final)
	if s.store == nil {
		return
	}
	if err := s.store.PutUsage(ctx, rs.namespace, &u); err != nil {
		s.log.Warn("writing run usage failed", "run", u.RunID, "alloc", u.AllocID, "final", final, "err", err)
		return
	}
	s.log.Debug("run usage written", "run", u.RunID, "alloc", u.AllocID, "final", final, "samples", u.Samples)
}

func (rs *runSummary) usage(final bool) record.Usage {
	u := rs.u
	u.Final = final
	u.Timeline = rs.tl.export()
	u.GPUUUIDs = slices.Clone(rs.u.GPUUUIDs)
	u.XIDs = slices.Clone(rs.u.XIDs)
	return u
}

// Summaries returns the current summaries (not final), by allocation ID.
func (s *Sampler) Summaries() []record.Usage {
	var out []record.Usage
	for _, id := range s.runIDs() {
		out = append(out, s.runs[id].usage(false))
	}
	return out
}
