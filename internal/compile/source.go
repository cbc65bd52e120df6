package compile

import (
	"path"
	"strings"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
)

// A run with a source block gets its code from Nomad itself: an artifact
// with go-getter's git getter, which clones the repository and checks out
// exactly the commit (option ref) into the task's local directory before
// the task starts. Nomad runs the fetch on the client, in its artifact
// sandbox, for every driver alike; a commit it cannot find fails the task
// with a "Failed Artifact Download" event, which report names. The checkout
// lives in the task's local/ directory because that is the part of the
// task directory every driver shows the task (docker and exec mount it at
// /local, raw_exec runs in the host's copy), and NOMAD_TASK_DIR names it in
// each: the command runs in ${NOMAD_TASK_DIR}/src/<path>.
const (
	// SourceDir is where the code is checked out, relative to the task
	// directory.
	SourceDir = "local/src"
	// sourceWorkDir is the same directory as every driver's task sees it.
	sourceWorkDir = "${NOMAD_TASK_DIR}/src"
)

// GitGetterPrefix forces go-getter's git getter whatever the URL looks like
// (a plain https URL would otherwise be downloaded as a file).
const GitGetterPrefix = "git::"

// artifacts is the task's artifact list: the source's checkout, or none.
func artifacts(src *spec.Source) []*api.TaskArtifact {
	if src == nil || src.Git == "" {
		return nil
	}
	return []*api.TaskArtifact{{
		GetterSource:  new(GitSource(src.Git)),
		GetterOptions: map[string]string{"ref": src.Commit},
		RelativeDest:  new(SourceDir),
	}}
}

// GitSource is the artifact source of a git URL: the URL with go-getter's
// git:: prefix, unless it has one.
func GitSource(url string) string {
	if strings.HasPrefix(url, GitGetterPrefix) {
		return url
	}
	return GitGetterPrefix + url
}

// workDir is the command's working directory: the checkout, or its path.
// Nomad interpolates the driver config, so the path is escaped (spec
// refuses "${" in it; "%{" would still be a template directive).
func workDir(src *spec.Source) string {
	p := path.Clean("/" + src.Path)
	if p == "/" {
		return sourceWorkDir
	}
	return sourceWorkDir + escapeTemplate(p)
}

// MaxRunDurationSince is the first Nomad version that enforces a task
// group's max_run_duration; older servers drop the field and older clients
// ignore it.
const MaxRunDurationSince = "2.0.2"

// MaxRunDurationConstraint keeps a run with a timeout off clients that
// would not enforce it: without it, such a client would run it unbounded.
func MaxRunDurationConstraint() *api.Constraint {
	return &api.Constraint{LTarget: "${attr.nomad.version}", Operand: "semver", RTarget: ">= " + MaxRunDurationSince}
}
