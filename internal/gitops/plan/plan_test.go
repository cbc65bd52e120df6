package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

func ids(refs []RunRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

func changeIDs(cs []Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	d := desired("a", 3)
	b := desired("b", 1)
	tests := []struct {
		name    string
		desired []DesiredRun
		actual  []ActualRun
		opts    Options
		want    map[string][3][]string // experiment → create, unchanged, removed
		changes bool
		counts  Counts
	}{
		{
			name:    "all new",
			desired: d,
			want:    map[string][3][]string{"a": {{"a-00000000", "a-00000001", "a-00000002"}, {}, {}}},
			changes: true, counts: Counts{Create: 3},
		},
		{
			name:    "present whatever the state, removed sorted",
			desired: d[:2],
			actual: []ActualRun{
				{ID: "a-00000001", Experiment: "a", Status: "dead", HasJob: true, HasRecord: true},
				{ID: "a-00000000", Experiment: "a", HasRecord: true}, // job garbage-collected
				{ID: "a-ffffffff", Experiment: "a", Status: "running", HasJob: true, HasRecord: true},
				{ID: "a-eeeeeeee", Experiment: "a", Status: "dead", HasJob: true, HasRecord: true},
			},
			want:    map[string][3][]string{"a": {{}, {"a-00000000", "a-00000001"}, {"a-eeeeeeee", "a-ffffffff"}}},
			changes: true, counts: Counts{Unchanged: 2, Removed: 2, RemovedActive: 1},
		},
		{
			name:    "finished removed runs are not changes",
			desired: d[:1],
			actual: []ActualRun{
				{ID: "a-00000000", Experiment: "a", Status: "dead", HasJob: true, HasRecord: true},
				{ID: "old-00000000", Experiment: "old", HasRecord: true},
				{ID: "old-00000001", Experiment: "old", Status: "running", Stopped: true, HasJob: true},
			},
			want: map[string][3][]string{
				"a":   {{}, {"a-00000000"}, {}},
				"old": {{}, {}, {"old-00000000", "old-00000001"}},
			},
			counts: Counts{Unchanged: 1, Removed: 2},
		},
		{
			name:    "ad-hoc runs are never no longer declared",
			desired: d[:1],
			actual: []ActualRun{
				{ID: "a-00000000", Experiment: "a", Status: "running", HasJob: true, HasRecord: true},
				{ID: "a-12345678", Experiment: "a", Status: "running", HasJob: true, AdHoc: true},
			},
			want:   map[string][3][]string{"a": {{}, {"a-00000000"}, {}}},
			counts: Counts{Unchanged: 1},
		},
		{
			name:    "scope limits removed runs to the experiments planned",
			desired: b,
			actual: []ActualRun{
				{ID: "a-00000009", Experiment: "a", Status: "running", HasJob: true},
				{ID: "b-99999999", Experiment: "b", Status: "pending", HasJob: true},
			},
			opts:    Options{Experiments: map[string]bool{"b": true}},
			want:    map[string][3][]string{"b": {{"b-00000000"}, {}, {"b-99999999"}}},
			changes: true, counts: Counts{Create: 1, Removed: 1, RemovedActive: 1},
		},
		{
			name:    "a job the controller has not recorded yet is present",
			desired: d[:1],
			actual:  []ActualRun{{ID: "a-00000000", Experiment: "a", Status: "running", HasJob: true}},
			want:    map[string][3][]string{"a": {{}, {"a-00000000"}, {}}},
			counts:  Counts{Unchanged: 1},
		},
		{
			name:    "job and record listed separately merge",
			desired: d[:1],
			actual: []ActualRun{
				{ID: "a-00000000", Experiment: "a", HasRecord: true},
				{ID: "a-00000000", Experiment: "a", Status: "running", HasJob: true},
			},
			want:   map[string][3][]string{"a": {{}, {"a-00000000"}, {}}},
			counts: Counts{Unchanged: 1},
		},
		{
			name:    "identical sweep points count once",
			desired: append(d[:1:1], d[0]),
			want:    map[string][3][]string{"a": {{"a-00000000"}, {}, {}}},
			changes: true, counts: Counts{Create: 1},
		},
		{
			name:   "nothing at all",
			want:   map[string][3][]string{},
			counts: Counts{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan(tt.desired, tt.actual, tt.opts)
			got := map[string][3][]string{}
			for _, e := range p.Experiments {
				got[e.Name] = [3][]string{changeIDs(e.Create), ids(e.Unchanged), ids(e.Removed)}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan = %v, want %v", got, tt.want)
			}
			c := p.Counts()
			if c != tt.counts {
				t.Errorf("counts = %+v, want %+v", c, tt.counts)
			}
			if c.HasChanges() != tt.changes {
				t.Errorf("HasChanges = %v, want %v", c.HasChanges(), tt.changes)
			}
		})
	}
}

func TestPlanDeterministic(t *testing.T) {
	d := append(desired("zeta", 5), desired("alpha", 5)...)
	var actual []ActualRun
	for i := 0; i < 50; i++ {
		actual = append(actual, ActualRun{ID: record.ExperimentOf(d[i%10].ID) + "-gone" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Experiment: record.ExperimentOf(d[i%10].ID), Status: "running", HasJob: true})
	}
	first, _ := json.Marshal(Plan(d, actual, Options{}))
	for i := 0; i < 20; i++ {
		// Reverse the inputs: the output must not depend on map or input order
		// of actual runs.
		rev := append([]ActualRun(nil), actual...)
		for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
			rev[l], rev[r] = rev[r], rev[l]
		}
		again, _ := json.Marshal(Plan(d, rev, Options{}))
		if !bytes.Equal(first, again) {
			t.Fatalf("plan differs between runs:\n%s\n%s", first, again)
		}
	}
	p := Plan(d, nil, Options{})
	if p.Experiments[0].Name != "alpha" || p.Experiments[1].Name != "zeta" {
		t.Errorf("experiments not sorted: %s, %s", p.Experiments[0].Name, p.Experiments[1].Name)
	}
}

func TestSavedPlanRoundTripAndStaleness(t *testing.T) {
	d := desired("a", 3)
	actual := []ActualRun{
		{ID: "a-00000000", Experiment: "a", Status: "running", HasJob: true, HasRecord: true},
		{ID: "a-77777777", Experiment: "a", Status: "running", HasJob: true, HasRecord: true},
	}
	p := Plan(d, actual, Options{})
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	saved, err := ReadPlan(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := changeIDs(saved.Experiments[0].Create); !reflect.DeepEqual(got, []string{"a-00000001", "a-00000002"}) {
		t.Fatalf("saved creates = %v", got)
	}
	if saved.Experiments[0].Create[0].Job == nil || *saved.Experiments[0].Create[0].Job.ID != "a-00000001" {
		t.Fatal("saved plan lost the job")
	}

	// The same cluster, with a run's state changing: still fresh, and the
	// removed run's activity refreshed.
	moved := append([]ActualRun(nil), actual...)
	moved[1].Status = "dead"
	if err := CheckFresh(saved, moved); err != nil {
		t.Fatalf("state change made the plan stale: %v", err)
	}
	if saved.Experiments[0].Removed[0].Active {
		t.Error("finished removed run still marked active after refresh")
	}

	// Another apply created one of the planned runs: stale.
	raced := append(moved, ActualRun{ID: "a-00000001", Experiment: "a", Status: "pending", HasJob: true})
	err = CheckFresh(saved, raced)
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "plan -out") {
		t.Fatalf("CheckFresh after a racing apply = %v, want ErrStale naming the fix", err)
	}
	// A removed run vanished (garbage-collected with its record purged).
	if err := CheckFresh(saved, moved[:1]); !errors.Is(err, ErrStale) {
		t.Fatalf("CheckFresh after a run vanished = %v, want ErrStale", err)
	}
}

func TestReadPlanRejects(t *testing.T) {
	p := Plan(desired("a", 1), nil, Options{})
	js, _ := json.Marshal(p.WithoutJobs())
	tests := map[string]string{
		"garbage":     "not json",
		"version":     `{"version": 99}`,
		"json output": string(js),
	}
	for name, in := range tests {
		if _, err := ReadPlan(strings.NewReader(in), nil); err == nil {
			t.Errorf("%s: ReadPlan accepted it", name)
		}
	}
}

func TestWithoutJobsLeavesPlanIntact(t *testing.T) {
	p := Plan(desired("a", 2), nil, Options{})
	s := p.WithoutJobs()
	if s.Experiments[0].Create[0].Job != nil || p.Experiments[0].Create[0].Job == nil {
		t.Fatal("WithoutJobs must strip the copy only")
	}
}

func TestSummaryText(t *testing.T) {
	s := desired("a", 1)[0].Summary
	if got, want := s.Text(), "pool=gpu gpus=1 image=train:1  lr=0.1 opt=adam"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestMarkdownFitsAPullRequestComment(t *testing.T) {
	p := Plan(desired("sweep", 5000), nil, Options{})
	var b strings.Builder
	if err := WriteMarkdown(&b, p); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if len(md) > 65536 {
		t.Errorf("Markdown plan of 5000 runs is %d characters, over GitHub's 65536 comment limit", len(md))
	}
	if n := strings.Count(md, "| `sweep-"); n != maxMarkdownRuns {
		t.Errorf("listed %d runs, want the first %d", n, maxMarkdownRuns)
	}
	for _, want := range []string{"| `sweep` | 5000 |", "and 4900 more", "`caravan plan` lists them all"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}
