package compile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// LinkDependencies writes into each job of a configuration that depends on
// other experiments the run IDs it waits for (record.MetaWaitFor): every
// run of each experiment in its depends_on, sorted. It works on the whole
// configuration's jobs, after Disambiguate, because a run's own
// compilation does not know its upstream runs' IDs. The list is not part
// of the run's identity: a run waits for the upstream runs declared with
// it when it was submitted.
func LinkDependencies(jobs []*api.Job) error {
	byExp := map[string][]string{}
	for _, j := range jobs {
		if j == nil || j.ID == nil {
			continue
		}
		e := j.Meta[record.MetaExperiment]
		byExp[e] = append(byExp[e], *j.ID)
	}
	for _, ids := range byExp {
		slices.Sort(ids)
	}
	for _, j := range jobs {
		if j == nil || j.Meta[record.MetaDependsOn] == "" {
			continue
		}
		var wait []string
		for _, dep := range strings.Split(j.Meta[record.MetaDependsOn], ",") {
			ids, ok := byExp[dep]
			if !ok {
				return fmt.Errorf("compile: run %s depends on experiment %q, which has no runs among those compiled; compile the whole configuration (known: %s)",
					deref(j.ID), dep, strings.Join(slices.Sorted(maps.Keys(byExp)), ", "))
			}
			wait = append(wait, ids...)
		}
		j.Meta[record.MetaWaitFor] = strings.Join(wait, ",")
	}
	return nil
}

// PinImage makes job run the image it declares (record.MetaImage) by
// digest: the task's image becomes "<repository>@<digest>" and
// record.MetaImageDigest records the digest. The run ID does not change:
// it hashes the image as declared, so the same tag resolved again names
// the same run (see hcl/README.md, image_pinning).
func PinImage(job *api.Job, digest string) error {
	if job == nil || len(job.TaskGroups) == 0 || len(job.TaskGroups[0].Tasks) == 0 {
		return fmt.Errorf("compile: pin the image of a job without a task")
	}
	declared := job.Meta[record.MetaImage]
	if declared == "" {
		return fmt.Errorf("compile: run %s declares no image to pin", deref(job.ID))
	}
	t := job.TaskGroups[0].Tasks[0]
	t.Config["image"] = escapeTemplate(Repository(declared) + "@" + digest)
	job.Meta[record.MetaImageDigest] = digest
	return nil
}

// Repository is an image reference without its tag and digest:
// "ghcr.io/acme/train:1.4" → "ghcr.io/acme/train". A tag is whatever
// follows the last ':' after the last '/' (a ':' before it belongs to a
// registry's port).
func Repository(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return name
}
