//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/cli"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	"github.com/hashicorp/nomad/api"
)

// The cluster this suite assumes: a node pool "gpu" whose clients
// fingerprint nvidia/gpu devices (at least one), with the raw_exec driver
// enabled, and a token that may create namespaces. Each suite works in a
// namespace of its own, named with a random prefix that also starts every
// experiment it writes, so that other people's runs and records in the
// cluster (or an earlier suite's leftovers) are never in its way; every job
// and record of that prefix, and the namespace, are removed at cleanup.

const (
	// waitRun bounds how long a short run may take to finish on the
	// cluster (placement, start, exit).
	waitRun = 3 * time.Minute
	// pollEvery is the interval between state checks while waiting.
	pollEvery = time.Second
)

type result struct {
	stdout, stderr string
	code           int
}

// suite is one e2e session: a prefix for its experiments and a Nomad
// client for cleanup and direct checks.
type suite struct {
	t       *testing.T
	prefix  string
	ns      string // the suite's own namespace
	cl      *nomad.Client
	cleaned sync.Once
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR is not set: the e2e suite needs a real Nomad (node pool gpu with nvidia/gpu devices, raw_exec enabled)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	prefix := "e2e" + hex.EncodeToString(b)
	cl, err := nomad.New(nomad.Config{Namespace: prefix})
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{t: t, prefix: prefix, ns: prefix, cl: cl}
	if _, err := cl.API().Namespaces().Register(&api.Namespace{Name: s.ns, Description: "caravan e2e " + t.Name()}, nil); err != nil {
		t.Fatalf("create the suite's namespace %s (the token needs operator:write or a management token): %v", s.ns, err)
	}
	t.Cleanup(s.cleanup)
	s.controller()
	return s
}

// controller runs `caravan controller` for the suite's namespace while the
// test runs, as a cluster runs it: apply registers jobs only, and the
// controller writes their records. It stops before the cleanup purges.
func (s *suite) controller() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb syncbuf.Buffer
	env := s.env(io.Discard, &errb)
	go func() {
		done <- cli.Main(ctx, []string{"controller", "-listen", "", "-resync", "5s", "-stall-check", "2s"}, env)
	}()
	s.t.Cleanup(func() {
		cancel()
		if code := <-done; code != cli.ExitOK {
			s.t.Errorf("caravan controller exited %d:\n%s", code, errb.String())
		}
	})
}

// getenv is the process environment with NOMAD_NAMESPACE and
// CARAVAN_PROJECT set to the suite's own, for the caravan commands the
// suite runs.
func (s *suite) getenv(k string) string {
	switch k {
	case "NOMAD_NAMESPACE":
		return s.ns
	case "CARAVAN_PROJECT":
		return s.prefix
	}
	return os.Getenv(k)
}

// env is how the suite runs caravan in-process: no input, the suite's
// namespace and project, and warnings logged to stderr.
func (s *suite) env(stdout, stderr io.Writer) cli.Env {
	return cli.Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: s.getenv, Environ: os.Environ,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// caravan runs one command in-process with the process environment.
func (s *suite) caravan(args ...string) result {
	s.t.Helper()
	r := s.quiet(args...)
	s.t.Logf("$ caravan %s → %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// quiet is caravan without the log line, for polls that run a command
// every second for minutes.
func (s *suite) quiet(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	env := s.env(&out, &errb)
	code := cli.Main(ctx, args, env)
	return result{out.String(), errb.String(), code}
}

// eventually reruns a command until it exits want with stdout holding
// every one of wants: what caravan reports about placement trails the
// apply (evaluations are asynchronous, job summaries lag).
func (s *suite) eventually(want int, wants []string, args ...string) result {
	s.t.Helper()
	deadline := s.deadline(waitRun)
	for {
		r := s.quiet(args...)
		ok := r.code == want
		for _, w := range wants {
			ok = ok && strings.Contains(r.stdout, w)
		}
		if ok {
			s.t.Logf("$ caravan %s → %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("caravan %s did not exit %d with %q within %s; last: exit %d\n%s%s",
				strings.Join(args, " "), want, wants, waitRun, r.code, r.stdout, r.stderr)
		}
		time.Sleep(pollEvery)
	}
}

// deadline is now+limit, cut short to leave a minute of the test binary's
// -timeout for the cleanup: a binary that times out runs no t.Cleanup,
// and every job and record of the session would stay on the cluster.
func (s *suite) deadline(limit time.Duration) time.Time {
	d := time.Now().Add(limit)
	if td, ok := s.t.Deadline(); ok && td.Add(-time.Minute).Before(d) {
		d = td.Add(-time.Minute)
	}
	return d
}

func (s *suite) must(want int, args ...string) result {
	s.t.Helper()
	r := s.caravan(args...)
	if r.code != want {
		s.t.Fatalf("caravan %s: exit %d, want %d", strings.Join(args, " "), r.code, want)
	}
	return r
}

func contains(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// cleanup purges every job and deletes every variable of the suite's
// namespace, then the namespace; once, however often it is called.
func (s *suite) cleanup() { s.cleaned.Do(s.purge) }

func (s *suite) purge() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jobs, err := s.cl.Jobs(ctx, s.ns)
	if err != nil {
		s.t.Errorf("cleanup: %v", err)
	}
	for _, j := range jobs {
		if err := s.cl.PurgeJob(ctx, j.Namespace, j.ID); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	metas, err := s.cl.Variables(ctx, s.ns, "")
	if err != nil {
		s.t.Errorf("cleanup: %v", err)
	}
	for _, m := range metas {
		if err := s.cl.DeleteVariable(ctx, m.Namespace, m.Path, nomad.NoCAS); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	if _, err := s.cl.API().Namespaces().Delete(s.ns, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		s.t.Errorf("cleanup: delete namespace %s: %v", s.ns, err)
	}
}

// dir is a new configuration directory of the suite's project.
func (s *suite) dir() string {
	s.t.Helper()
	d := s.t.TempDir()
	writeFile(s.t, filepath.Join(d, "project.hcl"), "caravan {\n  project = \""+s.prefix+"\"\n}\n")
	return d
}

// experiment is an HCL experiment of raw_exec runs in pool gpu, one per lr,
// running script with sh.
func (s *suite) experiment(name, script string, gpus int, lrs ...string) string {
	return fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", %q]
  params  = { seed = 1 }
  sweep {
    grid = { lr = [%s] }
  }
  resources {
    gpus   = %d
    cpu    = 100
    memory = "64MiB"
  }
  retries = 0
}
`, s.prefix+name, script, strings.Join(lrs, ", "), gpus)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// row is the part of `caravan ls -json` the suite reads.
type row struct {
	ID         string `json:"id"`
	Experiment string `json:"experiment"`
	State      string `json:"state"`
	RerunOf    string `json:"rerun_of"`
	HasJob     bool   `json:"has_job"`
	HasRecord  bool   `json:"has_record"`
	Params     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"params"`
}

// param is the value of one of the run's params.
func (r row) param(name string) string {
	for _, p := range r.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func (s *suite) ls(args ...string) []row {
	s.t.Helper()
	args = append([]string{"ls", "-json"}, args...)
	r := s.quiet(args...)
	if r.code != 0 {
		s.t.Fatalf("caravan %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	var rows []row
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		s.t.Fatalf("ls -json: %v", err)
	}
	return rows
}

// describe says what Nomad knows about the runs, for a failure message:
// each job's status, its summary, its evaluations (with why placement
// failed) and its allocations with their last task event.
func (s *suite) describe(rows []row) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "run %s: state %s\n", r.ID, r.State)
		if j, err := s.cl.Job(ctx, "", r.ID); err != nil {
			fmt.Fprintf(&b, "  job: %v\n", err)
		} else if j.Status != nil {
			fmt.Fprintf(&b, "  job: status=%s stop=%v\n", *j.Status, j.Stop != nil && *j.Stop)
		}
		if sum, err := s.cl.JobSummary(ctx, "", r.ID); err == nil {
			for tg, ts := range sum.Summary {
				fmt.Fprintf(&b, "  summary %s: %+v\n", tg, ts)
			}
		}
		if evs, err := s.cl.JobEvaluations(ctx, "", r.ID); err == nil {
			for _, e := range evs {
				fmt.Fprintf(&b, "  eval %.8s: %s %s %s", e.ID, e.TriggeredBy, e.Status, e.StatusDescription)
				for tg, m := range e.FailedTGAllocs {
					fmt.Fprintf(&b, " failed[%s]: filtered=%v exhausted=%v", tg, m.ConstraintFiltered, m.DimensionExhausted)
				}
				b.WriteString("\n")
			}
		}
		if as, err := s.cl.JobAllocations(ctx, "", r.ID); err == nil {
			for _, a := range as {
				fmt.Fprintf(&b, "  alloc %.8s on %s: desired=%s client=%s", a.ID, a.NodeName, a.DesiredStatus, a.ClientStatus)
				for task, ts := range a.TaskStates {
					if n := len(ts.Events); n > 0 {
						e := ts.Events[n-1]
						fmt.Fprintf(&b, " %s: %s %q%s", task, e.Type, e.DisplayMessage, exitCode(ts))
					}
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// waitStates polls ls until every run of experiment is in one of states,
// or fails the test at the deadline.
func (s *suite) waitStates(experiment string, n int, states ...string) []row {
	s.t.Helper()
	return s.waitRows(func() []row { return s.ls("-experiment", s.prefix+experiment) }, experiment, n, states...)
}

// waitRows polls list until it gives n runs, each in one of states.
func (s *suite) waitRows(list func() []row, experiment string, n int, states ...string) []row {
	s.t.Helper()
	deadline := s.deadline(waitRun)
	for {
		rows := list()
		done := len(rows) == n
		for _, r := range rows {
			ok := false
			for _, st := range states {
				ok = ok || r.State == st
			}
			done = done && ok
		}
		if done {
			return rows
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("runs of %s: want %d in %v within %s, have %d:\n%s", experiment, n, states, waitRun, len(rows), s.describe(rows))
		}
		time.Sleep(pollEvery)
	}
}

// waitStatesOf waits for one run of experiment to reach state.
func (s *suite) waitStatesOf(id, experiment, state string) {
	s.t.Helper()
	deadline := s.deadline(waitRun)
	for {
		rows := s.ls("-experiment", s.prefix+experiment)
		for _, r := range rows {
			if r.ID == id && r.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s did not reach %s within %s:\n%s", id, state, waitRun, s.describe(rows))
		}
		time.Sleep(pollEvery)
	}
}

// exitCode is " exit=N" from the task's last Terminated event, if any.
func exitCode(ts *api.TaskState) string {
	for i := len(ts.Events) - 1; i >= 0; i-- {
		if ts.Events[i].Type == api.TaskTerminated {
			return fmt.Sprintf(" exit=%d", ts.Events[i].ExitCode)
		}
	}
	return ""
}
