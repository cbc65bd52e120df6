package spec

import (
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Checkpoint says how a run saves its state so that caravan may move it
// while it runs: the signal that asks it to checkpoint, how long it may
// take, and where the checkpoints live. A run without one is never moved
// once it has started.
type Checkpoint struct {
	// Signal is sent to the task when it must checkpoint and stop
	// (Nomad's kill_signal); default SIGTERM.
	Signal string
	// Grace is how long the task may take after Signal before it is
	// killed (Nomad's kill_timeout); default DefaultCheckpointGrace.
	Grace time.Duration
	// Dir is where the task finds the checkpoint storage: a path every
	// node of the pool sees (a shared filesystem, or where Volume is
	// mounted), or an object-store URL such as s3://bucket/prefix. The
	// run's own directory is Dir/<run ID>, given to the task as
	// CARAVAN_CHECKPOINT_DIR.
	Dir string
	// Volume is the Nomad volume (a client host_volume, or a CSI volume
	// when VolumeType is "csi") that provides Dir on every node the run
	// may land on; "" when Dir needs none (an object store, a filesystem
	// mounted on every node by the operator).
	Volume     string
	VolumeType string // "host" or "csi"; "" when Volume is ""

	Range hcl.Range
}

// DefaultCheckpointGrace is the time a run gets to checkpoint when its
// checkpoint block sets no grace.
const DefaultCheckpointGrace = 2 * time.Minute

// MaxCheckpointGrace bounds grace: a move holds the GPUs of both machines
// for up to this long.
const MaxCheckpointGrace = time.Hour

var checkpointSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "signal"}, {Name: "grace"}, {Name: "dir", Required: true}, {Name: "volume"}, {Name: "volume_type"},
	},
}

// signalRe is a POSIX signal name as Nomad's kill_signal takes it.
var signalRe = regexp.MustCompile(`^SIG[A-Z0-9]{2,8}$`)

// volumeNameRe is what a Nomad volume source may be called.
var volumeNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// decodeCheckpoint reads an experiment's checkpoint block.
func (l *loader) decodeCheckpoint(b *hcl.Block) *Checkpoint {
	content, diags := b.Body.Content(checkpointSchema)
	l.add(diags...)
	c := &Checkpoint{Signal: "SIGTERM", Grace: DefaultCheckpointGrace, Range: b.DefRange}
	if a := content.Attributes["signal"]; a != nil {
		if v, ok := l.attrString(a); ok {
			if !signalRe.MatchString(v) {
				l.add(diagErr(a.Expr.Range(), "Invalid signal", "%q is not a signal name: write it as Nomad's kill_signal takes it, e.g. \"SIGUSR1\" or \"SIGTERM\".", v))
			}
			c.Signal = v
		}
	}
	if a := content.Attributes["grace"]; a != nil {
		if v, ok := l.attrDuration(a); ok {
			if v <= 0 || v > MaxCheckpointGrace {
				l.add(diagErr(a.Expr.Range(), "Invalid grace", "grace is %s; give the run between 1s and %s to write its checkpoint, e.g. \"2m\".", v, MaxCheckpointGrace))
			}
			c.Grace = v
		}
	}
	if a := content.Attributes["dir"]; a != nil {
		if v, ok := l.attrString(a); ok {
			if !strings.HasPrefix(v, "/") && !strings.Contains(v, "://") {
				l.add(diagErr(a.Expr.Range(), "Invalid checkpoint dir", "dir %q is neither an absolute path nor a URL: write where every node sees the checkpoint storage, e.g. \"/mnt/checkpoints\" or \"s3://bucket/checkpoints\".", v))
			}
			c.Dir = strings.TrimSuffix(v, "/")
		}
	}
	l.decodeCheckpointVolume(content, c)
	return c
}

func (l *loader) decodeCheckpointVolume(content *hcl.BodyContent, c *Checkpoint) {
	if a := content.Attributes["volume"]; a != nil {
		if v, ok := l.attrString(a); ok {
			if !volumeNameRe.MatchString(v) {
				l.add(diagErr(a.Expr.Range(), "Invalid volume", "%q is not a Nomad volume name: use letters, digits, '-', '_' and '.', as in the client's host_volume block or the CSI volume's ID.", v))
			}
			c.Volume, c.VolumeType = v, "host"
		}
	}
	a := content.Attributes["volume_type"]
	if a == nil {
		return
	}
	v, ok := l.attrString(a)
	if !ok {
		return
	}
	switch {
	case v != "host" && v != "csi":
		l.add(diagErr(a.Expr.Range(), "Invalid volume_type", "volume_type is %q; use \"host\" for a client host_volume or \"csi\" for a CSI volume.", v))
	case c.Volume == "":
		l.add(diagErr(a.Expr.Range(), "volume_type without volume", "volume_type says what kind of volume provides dir, but no volume is named; add volume = \"NAME\" or remove volume_type."))
	default:
		c.VolumeType = v
	}
}

// checkCheckpoint checks what depends on the experiment's other settings:
// a volume can only be mounted into a task whose driver mounts volumes.
func (l *loader) checkCheckpoint(e *Experiment) {
	c := e.Checkpoint
	if c == nil || c.Volume == "" || e.Driver != "raw_exec" {
		return
	}
	if c.VolumeType == "csi" {
		l.add(diagErr(c.Range, "CSI volume with raw_exec",
			"Experiment %q runs with driver raw_exec, which cannot mount a CSI volume; use driver docker or exec, or mount the storage on every node and leave volume out.", e.Name))
	}
}
