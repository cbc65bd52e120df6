package compile

import (
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Disambiguate gives distinct IDs to jobs whose run IDs collide although
// their specs differ. Eight hex digits are 32 bits: a 10k-run sweep has a
// 1% chance of a pair sharing an ID, a 100k-run sweep a likely one, and two
// different runs must never be one Nomad job.
//
// Within each group of jobs that share an ID, the job with the smallest
// spec hash keeps the short ID and every other one gets the shortest
// longer prefix of its hash (12, 16, ... hex digits) that no job uses. The
// result depends only on the set of jobs, not their order. Jobs with equal
// spec hashes are the same run twice; callers report those as duplicates
// before calling, and they are left alone here. It returns how many jobs
// got a longer ID.
func Disambiguate(jobs []*api.Job) int {
	byID := make(map[string][]*api.Job, len(jobs))
	collided := false
	for _, j := range jobs {
		id := *j.ID
		byID[id] = append(byID[id], j)
		collided = collided || len(byID[id]) > 1
	}
	if !collided {
		return 0
	}
	var groups [][]*api.Job
	for _, g := range byID {
		if len(g) > 1 {
			groups = append(groups, g)
		}
	}
	// Deterministic whatever the map order: handle groups by ID.
	slices.SortFunc(groups, func(a, b []*api.Job) int { return strings.Compare(*a[0].ID, *b[0].ID) })
	renamed := 0
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *api.Job) int {
			return strings.Compare(a.Meta[record.MetaSpecHash], b.Meta[record.MetaSpecHash])
		})
		keep := g[0].Meta[record.MetaSpecHash]
		for _, j := range g[1:] {
			hash := j.Meta[record.MetaSpecHash]
			if hash == keep || len(hash) < 12 {
				continue
			}
			exp := j.Meta[record.MetaExperiment]
			for n := 12; n <= len(hash); n += 4 {
				id := exp + "-" + hash[:n]
				if _, taken := byID[id]; !taken {
					byID[id] = []*api.Job{j}
					setID(j, id)
					renamed++
					break
				}
			}
		}
	}
	return renamed
}

// setID changes a compiled job's run ID everywhere it appears.
func setID(j *api.Job, id string) {
	j.ID, j.Name = new(id), new(id)
	j.Meta[record.MetaRunID] = id
	for _, tg := range j.TaskGroups {
		for _, t := range tg.Tasks {
			if _, ok := t.Env[EnvRunID]; ok {
				t.Env[EnvRunID] = id
			}
		}
	}
}
