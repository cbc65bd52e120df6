package compile

import (
	"fmt"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// findCollision varies the param named param of run over whole numbers
// from 0 and returns two values whose runs share an 8-hex ID. A 32-bit
// birthday pair takes about 80k tries.
func findCollision(tb testing.TB, run spec.Run, param string) (int64, int64) {
	tb.Helper()
	seen := make(map[string]int64, 1<<17)
	for i := int64(0); i < 1_000_000; i++ {
		r := run
		r.Params = []spec.Param{{Name: param, Value: cty.NumberIntVal(i)}}
		id := RunID(r)
		if j, ok := seen[id]; ok {
			return j, i
		}
		seen[id] = i
	}
	tb.Fatal("no colliding pair in 1M tries")
	return 0, 0
}

func TestDisambiguateRealCollision(t *testing.T) {
	if testing.Short() {
		t.Skip("searches ~80k runs for a 32-bit collision")
	}
	base := minimalRun()
	a, b := findCollision(t, base, "seed")
	var jobs []*api.Job
	for _, v := range []int64{b, a, 7} {
		r := base
		r.Params = []spec.Param{{Name: "seed", Value: cty.NumberIntVal(v)}}
		jobs = append(jobs, mustJob(t, r, Options{}))
	}
	if *jobs[0].ID != *jobs[1].ID {
		t.Fatalf("seeds %d and %d do not collide", a, b)
	}
	before := *jobs[0].ID
	if n := Disambiguate(jobs); n != 1 {
		t.Fatalf("renamed %d, want 1", n)
	}
	if *jobs[0].ID == *jobs[1].ID {
		t.Fatalf("still colliding: %s", *jobs[0].ID)
	}
	for _, j := range jobs {
		id := *j.ID
		if *j.Name != id || j.Meta[record.MetaRunID] != id || j.TaskGroups[0].Tasks[0].Env[EnvRunID] != id {
			t.Errorf("job %s: name %s meta %s env %s", id, *j.Name, j.Meta[record.MetaRunID], j.TaskGroups[0].Tasks[0].Env[EnvRunID])
		}
		if want := "smoke-" + j.Meta[record.MetaSpecHash][:len(id)-len("smoke-")]; id != want {
			t.Errorf("ID %s is not a prefix of its spec hash", id)
		}
	}
	// The smaller spec hash keeps the short ID, whatever the order.
	small, large := jobs[0], jobs[1]
	if small.Meta[record.MetaSpecHash] > large.Meta[record.MetaSpecHash] {
		small, large = large, small
	}
	if *small.ID != before || len(*large.ID) != len(before)+4 {
		t.Errorf("kept %s renamed %s (was %s)", *small.ID, *large.ID, before)
	}
}

func TestDisambiguateRules(t *testing.T) {
	mk := func(id, hash string) *api.Job {
		return &api.Job{ID: new(id), Name: new(id), Meta: map[string]string{record.MetaRunID: id, record.MetaSpecHash: hash, record.MetaExperiment: "e"},
			TaskGroups: []*api.TaskGroup{{Tasks: []*api.Task{{Env: map[string]string{EnvRunID: id}}}}}}
	}
	h := func(prefix string) string { return fmt.Sprintf("%-64s", prefix) }
	tests := []struct {
		name    string
		jobs    []*api.Job
		want    []string
		renamed int
	}{
		{"no collision", []*api.Job{mk("e-aaaaaaaa", h("aaaaaaaa1111")), mk("e-bbbbbbbb", h("bbbbbbbb"))},
			[]string{"e-aaaaaaaa", "e-bbbbbbbb"}, 0},
		{"pair, larger second", []*api.Job{mk("e-aaaaaaaa", h("aaaaaaaa1111")), mk("e-aaaaaaaa", h("aaaaaaaa2222"))},
			[]string{"e-aaaaaaaa", "e-aaaaaaaa2222"}, 1},
		{"pair, larger first", []*api.Job{mk("e-aaaaaaaa", h("aaaaaaaa2222")), mk("e-aaaaaaaa", h("aaaaaaaa1111"))},
			[]string{"e-aaaaaaaa2222", "e-aaaaaaaa"}, 1},
		{"12 digits taken", []*api.Job{mk("e-aaaaaaaa", h("aaaaaaaa1111")), mk("e-aaaaaaaa", h("aaaaaaaa2222xyzw")), mk("e-aaaaaaaa2222", h("zz"))},
			[]string{"e-aaaaaaaa", "e-aaaaaaaa2222xyzw", "e-aaaaaaaa2222"}, 1},
		{"exact duplicates left alone", []*api.Job{mk("e-aaaaaaaa", h("aaaaaaaa1111")), mk("e-aaaaaaaa", h("aaaaaaaa1111"))},
			[]string{"e-aaaaaaaa", "e-aaaaaaaa"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := Disambiguate(tt.jobs); n != tt.renamed {
				t.Errorf("renamed %d, want %d", n, tt.renamed)
			}
			for i, j := range tt.jobs {
				if *j.ID != tt.want[i] || j.Meta[record.MetaRunID] != tt.want[i] || j.TaskGroups[0].Tasks[0].Env[EnvRunID] != tt.want[i] {
					t.Errorf("job %d: ID %s, want %s", i, *j.ID, tt.want[i])
				}
			}
		})
	}
}
