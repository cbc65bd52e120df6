package sim

import "github.com/caravan-ml/caravan/internal/spec"

// Route sends every job whose trace row names no pool to a pool of
// candidates, by the rule an experiment's `pools = [...]` follows
// (spec.SmallestFit): the smallest node that holds the job. A job larger
// than every candidate's node runs on whole nodes of the candidate with the
// most GPUs per node, which needs the fewest of them. Jobs that name a pool
// keep it.
func Route(jobs []Job, candidates []*spec.Pool) {
	if len(candidates) == 0 {
		return
	}
	largest := candidates[0]
	for _, p := range candidates[1:] {
		if p.GPUsPerNode > largest.GPUsPerNode {
			largest = p
		}
	}
	for i := range jobs {
		if jobs[i].Pool != "" {
			continue
		}
		p := spec.SmallestFit(candidates, spec.Resources{GPUs: jobs[i].GPUs})
		if p == nil {
			p = largest
		}
		jobs[i].Pool = p.Name
	}
}
