package jobmeta

// Every key is a valid NOMAD_META_* env name: lower-case letters, digits
// and underscores.
const (
	// ManagedBy marks a job as caravan's; its value is ManagedByValue.
	// Nothing without it is ever touched.
	ManagedBy      = "caravan_managed_by"
	ManagedByValue = "caravan"

	RunID      = "caravan_run_id"
	Experiment = "caravan_experiment"
	SpecHash   = "caravan_spec_hash" // full sha256 hex of the resolved spec
	Pool       = "caravan_pool"      // caravan pool name
	GPUs       = "caravan_gpus"      // GPUs per run, decimal
	Params     = "caravan_params"    // JSON object of all params
	// ParamPrefix prefixes one key per param: caravan_param_<name>.
	ParamPrefix = "caravan_param_"

	SourceGit    = "caravan_source_git"
	SourceCommit = "caravan_source_commit"
	SourcePath   = "caravan_source_path"

	File         = "caravan_file" // experiment file, relative to the config dir
	Line         = "caravan_line" // line of the experiment block
	ConfigCommit = "caravan_config_commit"
	ConfigDirty  = "caravan_config_dirty" // "true" or "false"

	Timeout   = "caravan_timeout"    // Go duration string; "" when unset
	DependsOn = "caravan_depends_on" // comma-separated experiment names
	Rerun     = "caravan_rerun"      // the experiment's rerun counter
	RerunOf   = "caravan_rerun_of"   // run ID this run reproduces (caravan rerun)
)
