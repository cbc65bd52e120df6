//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTeamsShareANamespace: two teams' directories apply into the same
// namespace. Team A starts a long run; team B declares the same
// experiment, then drops it and applies -prune. A's run keeps running, and
// B's plan never mentions it.
func TestTeamsShareANamespace(t *testing.T) {
	s := newSuite(t)
	teamA, teamB := s.prefix+"-a", s.prefix+"-b"
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "project.hcl"), "caravan {\n  project = \""+teamA+"\"\n}\n")
	writeFile(t, filepath.Join(dirB, "project.hcl"), "caravan {\n  project = \""+teamB+"\"\n}\n")
	long := s.experiment("long", longScript, 0, "1")
	writeFile(t, filepath.Join(dirA, "long.hcl"), long)
	writeFile(t, filepath.Join(dirB, "long.hcl"), long)

	t.Log("team A starts a long run")
	s.must(0, "apply", dirA)
	a := s.waitStatesIn(teamA, "long", 1, "running")

	t.Log("team B declares the same experiment: another run, not A's")
	r := s.must(0, "apply", dirB)
	contains(t, r.stdout, "1 registered", `project "`+teamB+`"`)
	if strings.Contains(r.stdout, a[0].ID) {
		t.Errorf("team B's apply mentions team A's run %s", a[0].ID)
	}
	b := s.waitStatesIn(teamB, "long", 1, "running")
	if b[0].ID == a[0].ID {
		t.Fatalf("both teams' runs have ID %s", a[0].ID)
	}

	t.Log("team B drops it and prunes: only B's run stops")
	writeFile(t, filepath.Join(dirB, "long.hcl"), s.experiment("other", "true", 0, "1"))
	r = s.must(2, "plan", dirB, "-detailed-exitcode")
	contains(t, r.stdout, b[0].ID, "apply -prune stops it")
	if strings.Contains(r.stdout, a[0].ID) {
		t.Errorf("team B's plan mentions team A's run %s:\n%s", a[0].ID, r.stdout)
	}
	r = s.must(0, "apply", dirB, "-prune")
	contains(t, r.stdout, "1 stopped")
	s.waitStatesIn(teamB, "long", 1, "stopped")
	if got := s.waitStatesIn(teamA, "long", 1, "running"); got[0].ID != a[0].ID {
		t.Errorf("team A's run changed: %+v", got)
	}
}

// waitStatesIn is waitStates for the runs of another project than the
// suite's own.
func (s *suite) waitStatesIn(project, experiment string, n int, states ...string) []row {
	s.t.Helper()
	return s.waitRows(func() []row { return s.ls("-project", project, "-experiment", s.prefix+experiment) }, experiment, n, states...)
}
