package record

// Every key is a valid NOMAD_META_* env name: lower-case letters, digits
// and underscores.
const (
	// MetaManagedBy marks a job as caravan's; its value is ManagedByValue.
	// Nothing without it is ever touched.
	MetaManagedBy  = "caravan_managed_by"
	ManagedByValue = "caravan"

	MetaRunID      = "caravan_run_id"
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

	MetaFile         = "caravan_file" // experiment file, relative to the config dir
	MetaLine         = "caravan_line" // line of the experiment block
	MetaConfigCommit = "caravan_config_commit"
	MetaConfigDirty  = "caravan_config_dirty" // "true" or "false"

	MetaTimeout   = "caravan_timeout"    // Go duration string; "" when unset
	MetaDependsOn = "caravan_depends_on" // comma-separated experiment names
	MetaRerun     = "caravan_rerun"      // the experiment's rerun counter
	MetaRerunOf   = "caravan_rerun_of"   // run ID this run reproduces (caravan rerun)
)
