package query

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/hashicorp/nomad/api"
)

func TestPriorityOf(t *testing.T) {
	prio := 73
	id := "x"
	b, _ := json.Marshal(&api.Job{ID: &id, Priority: &prio, Meta: map[string]string{"Priority": "1"}})
	for _, tc := range []struct {
		job  string
		want int
	}{{string(b), 73}, {`{"ID":"x"}`, 0}, {`{"Priority":null}`, 0}, {`[]`, 0}, {``, 0}, {`{"Job":{"Priority":5}}`, 0}} {
		if got := priorityOf(json.RawMessage(tc.job)); got != tc.want {
			t.Errorf("priorityOf(%.40s) = %d, want %d", tc.job, got, tc.want)
		}
	}
}

func BenchmarkPriorityOf(b *testing.B) {
	raw, err := os.ReadFile("../../../shared/nomad-api-fixtures/get-job-fails-exit3.json")
	if err != nil {
		b.Skip(err)
	}
	// A record keeps the job as caravan marshals an api.Job.
	var job api.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		b.Fatal(err)
	}
	rec, _ := json.Marshal(&job)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		priorityOf(rec)
	}
}
