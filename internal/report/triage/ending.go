package triage

import (
	"cmp"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Two endings that caravan's own declarations cause: Nomad stopping a run
// at its timeout, and Nomad failing to fetch the run's source.

// exceededMaxRun reports whether Nomad stopped the allocation at its task
// group's max_run_duration (the run's timeout): Nomad then marks it
// complete, with this client description, and kills its tasks.
func exceededMaxRun(a *api.Allocation) bool {
	return strings.Contains(a.ClientDescription, "max_run_duration")
}

// timeoutFinding is the reason of a run stopped at its timeout:
// "timeout after 12h".
func timeoutFinding(timeout, runtime time.Duration, past bool, evidence []string) Finding {
	summary := "stopped at its timeout"
	if timeout > 0 {
		summary = "timeout after " + Human(timeout)
	}
	if past {
		evidence = append(evidence, "ran "+Human(runtime)+" with a timeout of "+Human(timeout))
	}
	return Finding{Kind: KindTimeout, Summary: summary, Evidence: evidence,
		Advice: "Nomad stopped it at the experiment's timeout (its max_run_duration). Raise `timeout`, or checkpoint and resume so a run fits in it."}
}

// Phrases git and go-getter use when the commit asked for is not in the
// repository (go-getter checks the ref before it clones: "invalid ref").
var missingRefWords = []string{"invalid ref", "not a tree", "did not match any", "unknown revision", "not our ref", "couldn't find remote ref", "no such commit", "bad object"}

// sourceNotFound is the finding of a run whose code Nomad could not fetch
// because the commit is not in the repository, nil otherwise.
func sourceNotFound(a *api.Allocation, ts *api.TaskState) *Finding {
	e := lastEvent(ts, api.TaskArtifactDownloadFailed)
	if e == nil {
		return nil
	}
	msg := e.DisplayMessage + " " + e.Message + " " + e.Details["download_error"]
	var git, commit string
	if a.Job != nil {
		git, commit = a.Job.Meta[record.MetaSourceGit], a.Job.Meta[record.MetaSourceCommit]
	}
	if !containsAny(msg, missingRefWords...) {
		return nil
	}
	f := &Finding{Kind: KindSourceNotFound, Summary: "source commit not found", Evidence: []string{eventLine(e)},
		Advice: "The commit is not in the repository the run fetches: push it, or fix `commit` in the experiment's source block, then apply again."}
	if commit != "" {
		f.Summary += ": " + commit + " is not in " + cmp.Or(git, "the repository")
	}
	return f
}
