package agent

import (
	"context"
	"log/slog"
	"maps"
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
	// The run's network counters at the previous sample, for rates.
	prevNet        bool
	prevRx, prevTx uint64
	prevNetAt      time.Time
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
				u: record.Usage{RunID: au.RunID, Project: au.Project, AllocID: au.ID, Node: s.agent.cfg.Node, Start: snap.Time, IntervalS: s.interval.Seconds(),
					Sources: map[string]string{}}}
			s.runs[au.ID] = rs
		}
		rs.missing = 0
		rs.add(snap, au, xids)
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

// add folds one sample of the run into its summary. A figure without a
// source in this sample is a gap (NaN) in the timeline, never a 0.
func (rs *runSummary) add(snap *Snapshot, au *AllocUse, xids []gpu.XID) {
	u := &rs.u
	u.Samples++
	u.End = snap.Time
	nan := math.NaN()
	p := point{snap.Time.Sub(u.Start).Seconds(), nan, nan, nan, nan, nan, nan}
	rs.addGPUs(snap, au, &p)
	u.MemLimit = au.MemLimit
	h := au.Host
	if h.RSSSource != "" {
		p[colRSS] = h.RSS
		u.RSSPeak = max(u.RSSPeak, int64(h.RSS))
		u.Sources[record.FigureRSS] = h.RSSSource
	}
	if h.CPUSource != "" {
		p[colCPU] = h.CPU
		u.Sources[record.FigureCPU] = h.CPUSource
	}
	if h.MemSource != "" {
		peak := h.MemUsage
		if !math.IsNaN(h.MemMax) {
			peak = max(peak, h.MemMax)
		}
		u.MemPeak = max(u.MemPeak, int64(peak))
		u.Sources[record.FigureMemory] = h.MemSource
	}
	if h.OOMSource != "" && int(h.OOMKills) >= u.OOMKills {
		u.OOMKills = int(h.OOMKills)
		u.Sources[record.FigureOOMKills] = h.OOMSource
	}
	if h.NetSource != "" {
		if dt := snap.Time.Sub(rs.prevNetAt).Seconds(); rs.prevNet && dt > 0 && h.NetRx >= rs.prevRx && h.NetTx >= rs.prevTx {
			p[colNetRx] = float64(h.NetRx-rs.prevRx) / dt
			p[colNetTx] = float64(h.NetTx-rs.prevTx) / dt
			u.Sources[record.FigureNet] = h.NetSource
		}
		rs.prevNet, rs.prevRx, rs.prevTx, rs.prevNetAt = true, h.NetRx, h.NetTx, snap.Time
	}
	for _, x := range xids {
		if rs.uuids[x.UUID] && len(u.XIDs) < maxRunXIDs {
			u.XIDs = append(u.XIDs, record.XID{Time: x.Time, UUID: x.UUID, Code: x.Code})
		}
	}
	rs.tl.add(p)
}

// addGPUs folds the run's GPUs into the summary and p: utilisation and
// memory averaged and summed over the GPUs that reported them.
func (rs *runSummary) addGPUs(snap *Snapshot, au *AllocUse, p *point) {
	u := &rs.u
	var util, mem, memTotal float64
	nUtil, nMem := 0, 0
	for _, gi := range au.GPUs {
		g := snap.GPUs[gi]
		rs.uuids[g.UUID] = true
		if g.Err != nil {
			continue
		}
		if !math.IsNaN(g.Util) {
			util += g.Util
			nUtil++
			u.Sources[record.FigureGPUUtil] = g.Source
		}
		if m := runGPUMem(snap, au, g); !math.IsNaN(m) {
			mem += m
			memTotal += float64(g.MemTotal)
			nMem++
			u.Sources[record.FigureGPUMem] = g.Source
		}
	}
	if nUtil > 0 {
		util /= float64(nUtil)
		p[colGPUUtil] = util
		rs.utilSum += util
		rs.utilN++
		u.GPUUtilMean = rs.utilSum / float64(rs.utilN)
		u.GPUUtilPeak = max(u.GPUUtilPeak, util)
	}
	if nMem > 0 {
		p[colGPUMem] = mem
		u.GPUMemPeak = max(u.GPUMemPeak, int64(mem))
		u.GPUMemTotal = max(u.GPUMemTotal, int64(memTotal))
	}
	u.GPUs = max(au.allocInfo.GPUs, len(rs.uuids))
	u.GPUUUIDs = u.GPUUUIDs[:0]
	for id := range rs.uuids {
		u.GPUUUIDs = append(u.GPUUUIDs, id)
	}
	slices.Sort(u.GPUUUIDs)
}

// flush writes the summary; a failed write is logged and retried at the
// next flush (a final one is lost only if its single try fails).
func (s *Sampler) flush(ctx context.Context, rs *runSummary, final bool) {
	u := s.usage(rs, final)
	if s.store == nil {
		return
	}
	if err := s.store.PutUsage(ctx, rs.namespace, &u); err != nil {
		s.log.Warn("writing run usage failed", "run", u.RunID, "alloc", u.AllocID, "final", final, "err", err)
		return
	}
	s.log.Debug("run usage written", "run", u.RunID, "alloc", u.AllocID, "final", final, "samples", u.Samples)
}

// usage is the summary as it stands, with the run's metric series. Once
// the run has ended, the rest of its metrics file is read, and OOM kills
// the kernel logged after the last sample (the one that ended the run,
// typically) are counted.
func (s *Sampler) usage(rs *runSummary, final bool) record.Usage {
	u := rs.u
	u.Final = final
	u.Timeline = rs.tl.export()
	u.GPUUUIDs = slices.Clone(rs.u.GPUUUIDs)
	u.XIDs = slices.Clone(rs.u.XIDs)
	u.Sources = maps.Clone(rs.u.Sources)
	if final {
		now := s.agent.cfg.Now()
		u.Metrics = s.agent.finalMetrics(u.AllocID, u.Start, now)
		s.agent.readKernelLog(now)
		if k := int(s.agent.kernelOOMs(u.AllocID)); k > u.OOMKills {
			u.OOMKills = k
			u.Sources[record.FigureOOMKills] = record.SourceKmsg
		}
	} else {
		u.Metrics = s.agent.runMetricsOf(u.AllocID, u.Start)
	}
	return u
}

// Summaries returns the current summaries (not final), by allocation ID.
func (s *Sampler) Summaries() []record.Usage {
	var out []record.Usage
	for _, id := range s.runIDs() {
		out = append(out, s.usage(s.runs[id], false))
	}
	return out
}
