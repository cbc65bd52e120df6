package record

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// Every key is a valid NOMAD_META_* env name: lower-case letters, digits
// and underscores.
const (
	// MetaManagedBy marks a job as caravan's; its value is ManagedByValue.
	// Nothing without it is ever touched.
	MetaManagedBy  = "caravan_managed_by"
	ManagedByValue = "caravan"

	MetaRunID      = "caravan_run_id"
	MetaProject    = "caravan_project" // absent for a run of no project
	MetaExperiment = "caravan_experiment"
	MetaSpecHash   = "caravan_spec_hash" // full sha256 hex of the resolved spec
	MetaPool       = "caravan_pool"      // caravan pool name
	MetaGPUs       = "caravan_gpus"      // GPUs per run, decimal
	MetaParams     = "caravan_params"    // JSON object of all params
	// MetaParamPrefix prefixes one key per param: caravan_param_<name>.
	MetaParamPrefix = "caravan_param_"

	MetaSourceGit    = "caravan_source_git"
	MetaSourceCommit = "caravan_source_commit"
	MetaSourcePath   = "caravan_source_path"

	// MetaImage is the image as the experiment declares it (a tag or a
	// digest reference); the task runs MetaImageDigest when that is set.
	MetaImage        = "caravan_image"
	MetaImageDigest  = "caravan_image_digest"  // "sha256:…" the tag resolved to at submit time; "" when not pinned
	MetaImagePinning = "caravan_image_pinning" // the experiment's image_pinning

	MetaConfigDir    = "caravan_config_dir" // the configuration directory as given to apply
	MetaFile         = "caravan_file"       // experiment file, relative to the config dir
	MetaLine         = "caravan_line"       // line of the experiment block
	MetaConfigCommit = "caravan_config_commit"
	MetaConfigDirty  = "caravan_config_dirty" // "true" or "false"

	MetaTimeout   = "caravan_timeout"    // Go duration string; "" when unset
	MetaDependsOn = "caravan_depends_on" // comma-separated experiment names
	// MetaWaitFor lists, comma-separated, the run IDs a run waits for: every
	// run of the experiments it depends on, as declared with it. The
	// controller registers the run once each of them completed.
	MetaWaitFor = "caravan_wait_for"
	MetaRerun   = "caravan_rerun" // the experiment's rerun counter
	// MetaCheckpointGrace is set, to the checkpoint block's grace (a Go
	// duration), only on runs that may be moved while they run.
	MetaCheckpointGrace = "caravan_checkpoint_grace"
	// MetaSpot is SpotOK on runs that may use spot pools without a
	// checkpoint block.
	MetaSpot = "caravan_spot"
	// MetaSpotFallbackPool and MetaSpotFallbackNodePool name the
	// on-demand pool (and its Nomad node pool) a checkpointing run on a
	// spot pool moves to once it has been preempted
	// MetaSpotMaxPreemptions times (the spot pool's spot_fallback and
	// spot_max_preemptions).
	MetaSpotFallbackPool     = "caravan_spot_fallback_pool"
	MetaSpotFallbackNodePool = "caravan_spot_fallback_node_pool"
	MetaSpotMaxPreemptions   = "caravan_spot_max_preemptions"
	MetaRerunOf              = "caravan_rerun_of" // run ID this run reproduces (caravan rerun)

	// Set at submit time, after compilation, so not part of a run's
	// identity: how and by whom the run was submitted, and what its pool
	// cost then.
	MetaOrigin       = "caravan_origin"         // OriginApply, OriginRun or OriginRerun
	MetaSubmittedBy  = "caravan_submitted_by"   // the submitter's ACL token name, when known
	MetaPricePerHour = "caravan_price_per_hour" // the pool's node price, decimal dollars
	MetaGPUsPerNode  = "caravan_gpus_per_node"  // GPUs per node of the pool
	MetaNomadVersion = "caravan_nomad_version"  // the Nomad servers' version the run was submitted to

	// MetaCaravanVersion is the version of the caravan that compiled the
	// run (what `caravan version` prints).
	MetaCaravanVersion = "caravan_version"
)

// Image pinning modes (values of MetaImagePinning and of an experiment's
// image_pinning).
const (
	PinningPin           = "pin"            // apply resolves a tag to its digest and submits the digest
	PinningRequireDigest = "require-digest" // the image must be declared by digest
	PinningAllowMutable  = "allow-mutable"  // the tag is submitted as is
)

// WaitForOf reads MetaWaitFor: the run IDs a run waits for, nil for none.
func WaitForOf(meta map[string]string) []string {
	v := meta[MetaWaitFor]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Origins of a run (values of MetaOrigin). Runs not submitted by apply are
// ad hoc: no directory's plan lists them as no longer declared.
const (
	OriginApply = "apply"
	OriginRun   = "run"
	OriginRerun = "rerun"
)

// Param is one param of a run as text, in the run's param order.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParamsOf decodes the MetaParams meta (a JSON object) into params sorted
// by name, values as text. Malformed meta gives none.
func ParamsOf(meta map[string]string) []Param {
	raw := meta[MetaParams]
	if raw == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil
	}
	out := make([]Param, 0, len(m))
	for k, v := range m {
		out = append(out, Param{Name: k, Value: valueText(v)})
	}
	slices.SortFunc(out, func(x, y Param) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

func valueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// ExperimentOf is the experiment part of a run ID ("<experiment>-<8 hex>"),
// for runs known only by ID (records whose job is gone).
func ExperimentOf(runID string) string {
	i := strings.LastIndexByte(runID, '-')
	if i <= 0 {
		return runID
	}
	return runID[:i]
}
