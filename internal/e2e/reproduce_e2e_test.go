//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a bare repository with two commits of sub/marker.txt
// ("marker-<first>" then "marker-<second>"), ready to be served over
// git's dumb HTTP protocol, and returns its directory and both commits.
func gitRepo(t *testing.T, first, second string) (bare, c1, c2 string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: Nomad's git artifact getter needs it too")
	}
	work, root := t.TempDir(), t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=e2e@caravan", "-c", "user.name=e2e"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q")
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, m := range []string{first, second} {
		writeFile(t, filepath.Join(work, "sub", "marker.txt"), "marker-"+m+"\n")
		git(work, "add", ".")
		git(work, "commit", "-qm", fmt.Sprint(i))
		if i == 0 {
			c1 = git(work, "rev-parse", "HEAD")
		}
	}
	c2 = git(work, "rev-parse", "HEAD")
	bare = filepath.Join(root, "models.git")
	git(root, "clone", "-q", "--bare", work, bare)
	git(bare, "update-server-info")
	return bare, c1, c2
}

// serveRepo serves dir over plain HTTP on loopback (git's dumb protocol
// needs nothing more) until the test ends, and returns its URL.
func serveRepo(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Dir(dir)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/" + filepath.Base(dir)
}

// TestSourceIsFetchedAtTheCommit: a run gets its code at exactly the
// declared commit, runs in the source path, and a commit the repository
// lacks fails the run with "source commit not found".
func TestSourceIsFetchedAtTheCommit(t *testing.T) {
	s := newSuite(t)
	bare, c1, _ := gitRepo(t, s.prefix+"-one", s.prefix+"-two")
	url := serveRepo(t, bare)
	dir := s.dir()
	src := func(name, commit string) string {
		return fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "cat marker.txt; echo cwd=$(pwd)"]
  source {
    git    = %q
    commit = %q
    path   = "sub"
  }
  resources {
    cpu    = 100
    memory = "64MiB"
  }
  retries = 0
}
`, s.prefix+name, url, commit)
	}
	writeFile(t, filepath.Join(dir, "src.hcl"), src("src", c1)+src("nosrc", "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"))
	r := s.must(0, "render", dir, "-format", "hcl")
	contains(t, r.stdout, `source      = "git::`+url+`"`, `ref = "`+c1+`"`, `work_dir = "$${NOMAD_TASK_DIR}/src/sub"`)
	s.must(0, "apply", dir)

	ok := s.waitStates("src", 1, "complete", "failed")
	r = s.must(0, "logs", ok[0].ID)
	if ok[0].State != "complete" || !strings.Contains(r.stdout, "marker-"+s.prefix+"-one") || strings.Contains(r.stdout, "-two") {
		t.Fatalf("run %s (%s) printed %q; want the marker of the first commit:\n%s", ok[0].ID, ok[0].State, r.stdout, s.describe(ok))
	}
	contains(t, r.stdout, "/local/src/sub")
	r = s.must(0, "show", ok[0].ID)
	contains(t, r.stdout, "Source:     "+url+" at commit "+c1+", in sub")

	bad := s.waitStates("nosrc", 1, "failed")
	r = s.must(0, "report", bad[0].ID)
	contains(t, r.stdout, "source commit not found")
}

// TestTimeoutStopsTheRun: timeout = "5s" on a 60 s sleep ends the run by
// Nomad's max_run_duration within 30 s, and report says it timed out.
func TestTimeoutStopsTheRun(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	writeFile(t, filepath.Join(dir, "slow.hcl"), fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sleep"
  args    = ["60"]
  timeout = "5s"
  resources {
    cpu    = 100
    memory = "64MiB"
  }
  retries = 0
}
`, s.prefix+"slow"))
	s.must(0, "apply", dir)
	// From the moment it runs: max_run_duration counts from the start of
	// the allocation.
	deadline := s.deadline(waitRun)
	var started time.Time
	for started.IsZero() {
		rows := s.ls("-experiment", s.prefix+"slow")
		if len(rows) == 1 && (rows[0].State == "running" || rows[0].State == "failed") {
			started = time.Now()
		} else if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s", s.describe(rows))
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows := s.waitStates("slow", 1, "failed", "complete")
	if took := time.Since(started); rows[0].State != "failed" || took > 30*time.Second {
		t.Fatalf("run ended %s after it started, in state %s; want failed by its 5s timeout within 30s:\n%s", took, rows[0].State, s.describe(rows))
	}
	r := s.must(0, "report", rows[0].ID)
	contains(t, r.stdout, "timeout after 5s")
}

// waitRow is the part of ls -json that says what a run waits for.
type waitRow struct {
	ID      string    `json:"id"`
	State   string    `json:"state"`
	HasJob  bool      `json:"has_job"`
	Started time.Time `json:"started"`
	Finish  time.Time `json:"finished"`
	Wait    *struct {
		Done, Total int
	} `json:"wait"`
}

func (s *suite) lsWaiting(experiment string) []waitRow {
	s.t.Helper()
	r := s.quiet("ls", "-json", "-experiment", s.prefix+experiment)
	if r.code != 0 {
		s.t.Fatalf("ls: %d %s", r.code, r.stderr)
	}
	var rows []waitRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		s.t.Fatal(err)
	}
	return rows
}

// TestDependsOn: preprocess → train (a sweep of 3): the train runs have no
// job until preprocess completed, and start after it; with preprocess
// failing, train is blocked and never starts.
func TestDependsOn(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	exp := func(name, script string, deps string, lrs ...string) string {
		return fmt.Sprintf(`experiment %q {
  pool       = "gpu"
  driver     = "raw_exec"
  command    = "/bin/sh"
  args       = ["-c", %q]
  depends_on = [%s]
  sweep {
    grid = { lr = [%s] }
  }
  resources {
    cpu    = 100
    memory = "64MiB"
  }
  retries = 0
}
`, s.prefix+name, script, deps, strings.Join(lrs, ", "))
	}
	pre, bad := `"`+s.prefix+`preprocess"`, `"`+s.prefix+`badprep"`
	marker := filepath.Join(t.TempDir(), "badprep-ran")
	writeFile(t, filepath.Join(dir, "pipeline.hcl"),
		exp("preprocess", "sleep 8; echo prepared", "", "1")+
			exp("train", "echo trained lr=$CARAVAN_PARAM_LR", pre, "0.1", "0.2", "0.3")+
			// badprep fails, and its rerun (the same job) finds the
			// marker its first run left and succeeds.
			exp("badprep", fmt.Sprintf(`if [ -e %[1]q ]; then echo fixed; exit 0; fi; touch %[1]q; echo broken >&2; exit 4`, marker), "", "1")+
			exp("badtrain", "echo never", bad, "0.1", "0.2", "0.3"))
	r := s.must(0, "render", dir, "-experiment", s.prefix+"train")
	contains(t, r.stdout, `"caravan_wait_for": "`+s.prefix+`preprocess-`)
	r = s.must(0, "apply", dir)
	contains(t, r.stdout, "2 registered, 6 waiting for the runs they depend on")

	r = s.must(0, "ls")
	contains(t, r.stdout, "waiting for "+s.prefix+"preprocess (0 of 1 runs done)")
	r = s.must(0, "status")
	contains(t, r.stdout, "waiting:  6 runs", "waiting for "+s.prefix+"preprocess (0 of 1 runs done)")

	for _, row := range s.lsWaiting("train") {
		if row.HasJob || row.State != "waiting" {
			t.Fatalf("train run %s has a job or is %s while preprocess runs", row.ID, row.State)
		}
	}
	prep := s.waitStates("preprocess", 1, "complete")
	train := s.waitStates("train", 3, "complete")
	full := s.lsWaiting("preprocess")[0]
	for _, row := range s.lsWaiting("train") {
		if row.Started.Before(full.Finish) {
			t.Errorf("train run %s started at %s, before preprocess %s finished at %s", row.ID, row.Started, prep[0].ID, full.Finish)
		}
	}
	_ = train

	failed := s.waitStates("badprep", 1, "failed")
	s.eventually(0, []string{"blocked by " + failed[0].ID + " (failed)"}, "ls", "-experiment", s.prefix+"badtrain")
	for _, row := range s.lsWaiting("badtrain") {
		if row.HasJob || row.State != "blocked" {
			t.Errorf("badtrain run %s: job %v, state %s; want blocked without a job", row.ID, row.HasJob, row.State)
		}
	}
	r = s.must(0, "plan", dir)
	contains(t, r.stdout, "blocked by "+failed[0].ID+" (failed)")

	t.Log("a rerun of the failed upstream that completes releases the runs it blocked")
	s.must(0, "rerun", failed[0].ID)
	for _, row := range s.waitStates("badtrain", 3, "complete") {
		if !row.HasJob {
			t.Errorf("badtrain run %s completed without a job", row.ID)
		}
	}
}
