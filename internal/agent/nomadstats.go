package agent

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/gpu"
)

// Attribute names of Nomad's nvidia device plugin stats.
const (
	statGPUUtil    = "GPU utilization"    // %
	statMemUtil    = "Memory utilization" // %
	statMemState   = "Memory state"       // used / total, MiB
	statTemp       = "Temperature"        // °C
	statPowerUsage = "Power usage"        // draw / limit, W
)

// deviceFallback stands in for NVML with what the Nomad device plugin
// reports, so a node where the agent cannot load NVML still shows its GPUs.
// It runs only when NVML read no device at all, and then replaces NVML's
// failed entries wholesale; the plugin has no NVML indexes, so its gpu
// labels are positions in UUID order.
func (a *Agent) deviceFallback(ctx context.Context, s *Snapshot, errs *[]error) {
	hs, err := a.cfg.Nomad.ClientStats(ctx, "")
	if err != nil {
		*errs = append(*errs, err)
		return
	}
	gpus := gpusFromNomad(hs.DeviceStats)
	if len(gpus) == 0 {
		return
	}
	s.GPUs = gpus
}

// gpusFromNomad turns device plugin stats into GPUStats, numbering the GPUs
// in UUID order (the plugin does not report NVML indexes).
func gpusFromNomad(groups []*api.DeviceGroupStats) []GPUStat {
	type inst struct {
		id, model string
		st        *api.DeviceStats
	}
	var all []inst
	for _, g := range groups {
		if g == nil || g.Type != "gpu" {
			continue
		}
		for id, st := range g.InstanceStats {
			all = append(all, inst{id, g.Name, st})
		}
	}
	slices.SortFunc(all, func(a, b inst) int { return strings.Compare(a.id, b.id) })
	out := make([]GPUStat, 0, len(all))
	for i, in := range all {
		s := gpu.NewStats(gpu.Device{Index: i, UUID: in.id, Name: in.model})
		if in.st != nil && in.st.Stats != nil {
			at := in.st.Stats.Attributes
			if v, _, ok := statValue(at[statGPUUtil]); ok {
				s.Util = v / 100
			}
			if v, _, ok := statValue(at[statMemUtil]); ok {
				s.MemUtil = v / 100
			}
			if v, d, ok := statValue(at[statMemState]); ok {
				s.MemUsed = uint64(v) << 20
				if !math.IsNaN(d) {
					s.MemTotal = uint64(d) << 20
				}
			}
			if v, _, ok := statValue(at[statTemp]); ok {
				s.TempC = v
			}
			if v, d, ok := statValue(at[statPowerUsage]); ok {
				s.PowerW, s.PowerLimit = v, d
			}
		}
		out = append(out, GPUStat{Stats: s, Source: "nomad"})
	}
	return out
}

// statValue reads a numeric stat: its numerator, its denominator (NaN when
// absent), and whether there was a number at all ("N/A" stats are strings).
func statValue(v *api.StatValue) (num, den float64, ok bool) {
	den = math.NaN()
	if v == nil {
		return 0, den, false
	}
	switch {
	case v.IntNumeratorVal != nil:
		num, ok = float64(*v.IntNumeratorVal), true
	case v.FloatNumeratorVal != nil:
		num, ok = *v.FloatNumeratorVal, true
	}
	switch {
	case v.IntDenominatorVal != nil:
		den = float64(*v.IntDenominatorVal)
	case v.FloatDenominatorVal != nil:
		den = *v.FloatDenominatorVal
	}
	return num, den, ok
}
