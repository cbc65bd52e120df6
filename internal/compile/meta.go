package compile

import "github.com/caravan-ml/caravan/internal/compile/jobmeta"

// Job meta keys that caravan writes on every job it compiles. They are the
// contract between the compiler and everything that reads jobs back from
// Nomad (gitops, the agent, reports). The values live in the leaf package
// jobmeta, which readers of jobs import instead, so that they do not link
// the compiler and the HCL parser (see jobmeta's doc).
const (
	// MetaManagedBy marks a job as caravan's; its value is ManagedByValue.
	// Nothing without it is ever touched.
	MetaManagedBy  = jobmeta.ManagedBy
	ManagedByValue = jobmeta.ManagedByValue

	MetaRunID      = jobmeta.RunID
	MetaExperiment = jobmeta.Experiment
	MetaSpecHash   = jobmeta.SpecHash
	MetaPool       = jobmeta.Pool
	MetaGPUs       = jobmeta.GPUs
	MetaParams     = jobmeta.Params
	// MetaParamPrefix prefixes one key per param: caravan_param_<name>.
	MetaParamPrefix = jobmeta.ParamPrefix

	MetaSourceGit    = jobmeta.SourceGit
	MetaSourceCommit = jobmeta.SourceCommit
	MetaSourcePath   = jobmeta.SourcePath

	MetaFile         = jobmeta.File
	MetaLine         = jobmeta.Line
	MetaConfigCommit = jobmeta.ConfigCommit
	MetaConfigDirty  = jobmeta.ConfigDirty

	MetaTimeout   = jobmeta.Timeout
	MetaDependsOn = jobmeta.DependsOn
	MetaRerun     = jobmeta.Rerun
	MetaRerunOf   = jobmeta.RerunOf
)
