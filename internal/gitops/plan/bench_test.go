package plan

import (
	"testing"
)

// BenchmarkPlan10k diffs 10,000 declared runs with 10,000 existing ones,
// half of them the same: 5,000 to create, 5,000 unchanged, 5,000 no longer
// declared.
func BenchmarkPlan10k(b *testing.B) {
	all := desired("sweep", 15000)
	want := all[5000:]
	var have []ActualRun
	for _, d := range all[:10000] {
		have = append(have, ActualRun{ID: d.ID, Experiment: d.Experiment, Namespace: "default", Status: "running", HasJob: true, HasRecord: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		p := Plan(want, have, Options{})
		if c := p.Counts(); c.Create != 5000 || c.Unchanged != 5000 || c.Removed != 5000 {
			b.Fatalf("counts %+v", c)
		}
	}
}
