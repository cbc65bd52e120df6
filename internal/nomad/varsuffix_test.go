package nomad_test

import (
	"context"
	"slices"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/hashicorp/nomad/api"
)

// TestVariablesEndingIn: the fake answers Nomad's path filter as Nomad does
// (the e2e twin checks Nomad itself).
func TestVariablesEndingIn(t *testing.T) {
	checkVariablesEndingIn(t, newClient(t, nomadtest.New(t)), "caravan/projects/p/runs/")
}

// checkVariablesEndingIn puts a run record, its outcome and its moves
// under prefix and lists the moves alone; a path that only contains the
// suffix, or ends in it with a regexp metacharacter before, is not one.
func checkVariablesEndingIn(t *testing.T, c *nomad.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	paths := []string{prefix + "a", prefix + "a/moves", prefix + "a/outcome", prefix + "b/moves", prefix + "movesx/outcome", prefix + "c/xmoves"}
	for _, p := range paths {
		if _, err := c.PutVariable(ctx, "", p, map[string]string{"v": "1"}, nomad.NoCAS); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.DeleteVariable(context.Background(), "", p, nomad.NoCAS) })
	}
	want := []string{prefix + "a/moves", prefix + "b/moves"}
	// The server filters: what it sends is the moves alone.
	raw, _, err := c.API().Variables().List(&api.QueryOptions{Prefix: prefix, Filter: nomad.PathEndsIn("/moves")})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(want) {
		t.Errorf("Nomad sent %d variables for the filter %s, want %d", len(raw), nomad.PathEndsIn("/moves"), len(want))
	}
	metas, err := c.VariablesEndingIn(ctx, "", prefix, "/moves")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range metas {
		got = append(got, m.Path)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("variables ending in /moves: %v, want %v", got, want)
	}
}
