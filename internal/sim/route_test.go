package sim

import (
	"testing"

	"github.com/caravan-ml/caravan/internal/spec"
)

func TestRoute(t *testing.T) {
	g1 := &spec.Pool{Name: "g1", GPUsPerNode: 1}
	g4 := &spec.Pool{Name: "g4", GPUsPerNode: 4}
	g8 := &spec.Pool{Name: "g8", GPUsPerNode: 8}
	jobs := []Job{
		{ID: "one", GPUs: 1},
		{ID: "three", GPUs: 3},
		{ID: "eight", GPUs: 8},
		{ID: "multi-node", GPUs: 32},
		{ID: "named", GPUs: 1, Pool: "g8"},
	}
	Route(jobs, []*spec.Pool{g8, g4, g1})
	want := map[string]string{"one": "g1", "three": "g4", "eight": "g8", "multi-node": "g8", "named": "g8"}
	for _, j := range jobs {
		if j.Pool != want[j.ID] {
			t.Errorf("job %s routed to %q, want %q", j.ID, j.Pool, want[j.ID])
		}
	}
}
