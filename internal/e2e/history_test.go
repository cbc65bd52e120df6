//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestHistoryOutlivesNomad: runs end, the controller records how, and
// every job is purged as Nomad's garbage collector would; ls, show, report
// and logs still answer, from the records.
func TestHistoryOutlivesNomad(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	writeFile(t, filepath.Join(dir, "ok.hcl"), s.experiment("hok", "echo all good; echo done >&2", 0, "1"))
	writeFile(t, filepath.Join(dir, "bad.hcl"), s.experiment("hbad", "echo step 1; echo 'ValueError: bad lr' >&2; exit 3", 0, "2"))
	s.must(0, "apply", dir)
	ok := s.waitStates("hok", 1, "complete")
	bad := s.waitStates("hbad", 1, "failed")

	t.Log("the controller records how each run ended")
	s.eventually(0, []string{"Ended:      failed", "exit code 3"}, "show", bad[0].ID)
	s.eventually(0, []string{"Ended:      complete"}, "show", ok[0].ID)

	t.Log("Nomad collects the jobs")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{ok[0].ID, bad[0].ID} {
		if err := s.cl.PurgeJob(ctx, "", id); err != nil {
			t.Fatal(err)
		}
	}

	rows := s.ls("-state", "failed")
	if len(rows) != 1 || rows[0].ID != bad[0].ID || rows[0].HasJob {
		t.Errorf("ls -state failed after the purge: %+v", rows)
	}
	if got := s.ls("-state", "complete"); len(got) != 1 || got[0].ID != ok[0].ID {
		t.Errorf("ls -state complete after the purge: %+v", got)
	}
	r := s.must(0, "show", bad[0].ID)
	contains(t, r.stdout, "gone from Nomad", "State:      failed", "Ended:      failed", "exit code 3")
	r = s.must(0, "report", bad[0].ID)
	contains(t, r.stdout, "ValueError: bad lr", "as recorded at")
	r = s.must(0, "logs", bad[0].ID, "-stderr")
	contains(t, r.stdout, "ValueError: bad lr")
	r = s.must(0, "logs", ok[0].ID)
	contains(t, r.stdout, "all good")
}
