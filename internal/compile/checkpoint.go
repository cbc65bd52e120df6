package compile

import (
	"maps"
	"slices"
	"strconv"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// EnvCheckpointDir is the task environment variable naming the run's own
// checkpoint directory: the checkpoint block's dir followed by the run ID.
// It outlives every allocation of the run, so a run that finds a
// checkpoint there is resuming, and one that finds none is starting.
const EnvCheckpointDir = "CARAVAN_CHECKPOINT_DIR"

// checkpointVolume is the name of the group volume that provides the
// checkpoint storage.
const checkpointVolume = "caravan-checkpoint"

// resolvedCheckpoint is the checkpoint block in a run's identity: moving a
// run differently is a different declaration.
type resolvedCheckpoint struct {
	Signal     string `json:"signal"`
	Grace      string `json:"grace"`
	Dir        string `json:"dir"`
	Volume     string `json:"volume"`
	VolumeType string `json:"volume_type"`
}

func resolvedCheckpointOf(c *spec.Checkpoint) *resolvedCheckpoint {
	if c == nil {
		return nil
	}
	return &resolvedCheckpoint{Signal: c.Signal, Grace: c.Grace.String(), Dir: c.Dir, Volume: c.Volume, VolumeType: c.VolumeType}
}

// applyCheckpoint makes the task stop the way the run checkpoints (its
// signal, then its grace before the kill) and gives it its directory. A
// volume is asked for by the group, which also keeps the run off nodes
// without it; it is mounted at dir unless the driver runs on the host
// itself (raw_exec), where dir is the volume's path already.
func applyCheckpoint(e *spec.Experiment, tg *api.TaskGroup, task *api.Task, meta map[string]string, id string) {
	if e.Spot != "" {
		meta[record.MetaSpot] = e.Spot
	}
	c := e.Checkpoint
	if c == nil {
		return
	}
	task.KillSignal = c.Signal
	task.KillTimeout = new(c.Grace)
	task.Env[EnvCheckpointDir] = c.Dir + "/" + id
	meta[record.MetaCheckpointGrace] = c.Grace.String()
	if c.Volume == "" {
		return
	}
	v := &api.VolumeRequest{Name: checkpointVolume, Type: c.VolumeType, Source: c.Volume}
	if c.VolumeType == "csi" {
		v.AccessMode = "multi-node-multi-writer"
		v.AttachmentMode = "file-system"
	}
	tg.Volumes = map[string]*api.VolumeRequest{checkpointVolume: v}
	if driverOf(e) != "raw_exec" {
		task.VolumeMounts = []*api.VolumeMount{{Volume: new(checkpointVolume), Destination: new(c.Dir)}}
	}
}

// writeVolumes renders a group's volume blocks.
func writeVolumes(g *hclwrite.Body, vols map[string]*api.VolumeRequest) {
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		v := vols[name]
		g.AppendNewline()
		b := g.AppendNewBlock("volume", []string{name}).Body()
		b.SetAttributeValue("type", cty.StringVal(v.Type))
		b.SetAttributeValue("source", cty.StringVal(v.Source))
		if v.AccessMode != "" {
			b.SetAttributeValue("access_mode", cty.StringVal(v.AccessMode))
			b.SetAttributeValue("attachment_mode", cty.StringVal(v.AttachmentMode))
		}
	}
}

// writeKill renders how a task is stopped and what it mounts.
func writeKill(tb *hclwrite.Body, t *api.Task) {
	if t.KillSignal != "" {
		tb.SetAttributeValue("kill_signal", cty.StringVal(t.KillSignal))
	}
	if t.KillTimeout != nil {
		tb.SetAttributeValue("kill_timeout", cty.StringVal(t.KillTimeout.String()))
	}
	for _, m := range t.VolumeMounts {
		tb.AppendNewline()
		b := tb.AppendNewBlock("volume_mount", nil).Body()
		setString(b, "volume", m.Volume)
		setString(b, "destination", m.Destination)
	}
}

// applySpotFallback tells whoever moves a checkpointing run off a
// preempted spot machine (the node agent) where the run goes once it has
// been preempted too often: the pool's spot_fallback, its node pool, and
// the limit. The placement of the job itself is unchanged.
func applySpotFallback(e *spec.Experiment, pool *spec.Pool, pools map[string]*spec.Pool, meta map[string]string) {
	if e.Checkpoint == nil || !pool.Spot || pool.SpotFallback == "" {
		return
	}
	fb := pools[pool.SpotFallback]
	if fb == nil {
		return
	}
	meta[record.MetaSpotFallbackPool] = fb.Name
	meta[record.MetaSpotFallbackNodePool] = nodePool(fb)
	meta[record.MetaSpotMaxPreemptions] = strconv.Itoa(pool.MaxPreemptions())
}
