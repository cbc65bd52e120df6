//go:build e2e

package nomad_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// The end-to-end test of the Client against a real Nomad at NOMAD_ADDR
// (make e2e). It assumes node pool "gpu" with clients that fingerprint
// nvidia/gpu devices and enable raw_exec, and removes every job and
// variable it creates. It does not drain or toggle nodes unless
// CARAVAN_E2E_NODES=1, since that disturbs a shared cluster.

func e2eClient(t *testing.T) *nomad.Client {
	t.Helper()
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR is not set: the e2e tests need a real Nomad (node pool gpu with nvidia/gpu devices, raw_exec enabled)")
	}
	c, err := nomad.New(nomad.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func e2eID(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// e2eJob is a raw_exec run: it prints to stdout and stderr and exits code.
// raw_exec runs the command without a shell, so the script goes through
// /bin/sh -c with absolute paths (the task's PATH is the client agent's).
func e2eJob(id string, gpus int, code int, sleep string) *api.Job {
	j := gpuJob(id, "gpu", gpus)
	// Region and datacenters left to the cluster: "global" and an explicit
	// datacenter list would break on a cluster named otherwise.
	j.Region = nil
	j.Datacenters = []string{"*"}
	j.Meta[record.MetaRunID] = id
	zero := 0
	mode := "fail"
	j.TaskGroups[0].RestartPolicy = &api.RestartPolicy{Attempts: &zero, Mode: &mode}
	unlimited := false
	j.TaskGroups[0].ReschedulePolicy = &api.ReschedulePolicy{Attempts: &zero, Unlimited: &unlimited}
	j.TaskGroups[0].Tasks[0].Config = map[string]any{
		"command": "/bin/sh",
		"args":    []string{"-c", "echo starting; echo caravan-e2e-stderr >&2; /bin/sleep " + sleep + "; exit " + itoa(code)},
	}
	return j
}

// e2eWait bounds every wait for the cluster: registration returns before
// the scheduler has placed anything, a blocked evaluation or a busy pool
// takes a while, and a raw_exec task starts in seconds once placed.
const e2eWait = 3 * time.Minute

// e2eDeadline is now+limit, cut short so that the test binary's -timeout
// leaves a minute for the cleanups (a timed-out binary runs none of them,
// and every job it made would stay on the cluster).
func e2eDeadline(t *testing.T, limit time.Duration) time.Time {
	d := time.Now().Add(limit)
	if td, ok := t.Deadline(); ok && td.Add(-time.Minute).Before(d) {
		d = td.Add(-time.Minute)
	}
	return d
}

func waitState(t *testing.T, c *nomad.Client, id string, want ...record.State) record.State {
	t.Helper()
	deadline := e2eDeadline(t, e2eWait)
	var st record.State
	for time.Now().Before(deadline) {
		st = runState(t, c, id)
		for _, w := range want {
			if st == w {
				return st
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("job %s: state %s after %s, want one of %v\n%s", id, st, e2eWait, want, describeJob(c, id))
	return st
}

// describeJob says what Nomad knows about a job, for failure messages: its
// status, summary, evaluations (with why placement failed) and allocations
// (with their last task events).
func describeJob(c *nomad.Client, id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	if j, err := c.Job(ctx, "", id); err != nil {
		fmt.Fprintf(&b, "  job: %v\n", err)
	} else {
		fmt.Fprintf(&b, "  job: status=%s stop=%v pool=%s\n", deref(j.Status), j.Stop != nil && *j.Stop, deref(j.NodePool))
	}
	if s, err := c.JobSummary(ctx, "", id); err == nil {
		for tg, ts := range s.Summary {
			fmt.Fprintf(&b, "  summary %s: %+v\n", tg, ts)
		}
	}
	if evs, err := c.JobEvaluations(ctx, "", id); err == nil {
		for _, e := range evs {
			fmt.Fprintf(&b, "  eval %.8s: %s %s %s", e.ID, e.TriggeredBy, e.Status, e.StatusDescription)
			for tg, m := range e.FailedTGAllocs {
				fmt.Fprintf(&b, " failed[%s]: nodes=%d filtered=%v exhausted=%v", tg, m.NodesEvaluated, m.ConstraintFiltered, m.DimensionExhausted)
			}
			b.WriteString("\n")
		}
	}
	if as, err := c.JobAllocations(ctx, "", id); err == nil {
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
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// purgeAll purges jobs at cleanup and says which could not be removed.
func purgeAll(t *testing.T, c *nomad.Client, ids ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range ids {
		if err := c.PurgeJob(ctx, "", id); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("cleanup: purge job %s: %v", id, err)
		}
	}
}

func TestE2EClientAgainstRealNomad(t *testing.T) {
	c := e2eClient(t)
	ctx := context.Background()
	if err := c.CheckNamespace(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Self(ctx); err != nil {
		t.Fatalf("token self (ACLs off must be tolerated): %v", err)
	}
	var jobs []string
	t.Cleanup(func() { purgeAll(t, c, jobs...) })

	// A run that succeeds: states, logs (plain and framed), allocation.
	ok := e2eID("caravan-e2e-ok")
	jobs = append(jobs, ok)
	created, err := c.CreateJob(ctx, e2eJob(ok, 1, 0, "1"))
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if again, err := c.CreateJob(ctx, e2eJob(ok, 1, 0, "1")); err != nil || again {
		t.Fatalf("second create of the same run: created=%v err=%v", again, err)
	}
	waitState(t, c, ok, record.StateComplete)
	allocs, err := c.JobAllocations(ctx, "", ok)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocs %v %v", allocs, err)
	}
	a, err := c.Allocation(ctx, "", allocs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.AllocatedResources == nil || a.AllocatedResources.Tasks["train"] == nil || len(a.AllocatedResources.Tasks["train"].Devices) != 1 {
		t.Fatalf("allocation %s: want one allocated nvidia/gpu device group, got %+v", a.ID, a.AllocatedResources)
	}
	for _, plain := range []bool{true, false} {
		var out bytes.Buffer
		if err := c.Logs(ctx, a.ID, nomad.LogOptions{Task: "train", Plain: plain}, &out); err != nil || !strings.Contains(out.String(), "starting") {
			t.Fatalf("stdout plain=%v: %q %v", plain, out.String(), err)
		}
	}
	var errOut bytes.Buffer
	if err := c.Logs(ctx, a.ID, nomad.LogOptions{Task: "train", Stderr: true}, &errOut); err != nil || !strings.Contains(errOut.String(), "caravan-e2e-stderr") {
		t.Fatalf("stderr: %q %v", errOut.String(), err)
	}
	if nallocs, err := c.NodeAllocations(ctx, a.NodeID); err != nil || len(nallocs) == 0 {
		t.Fatalf("node allocations: %v", err)
	}
	if _, err := c.Node(ctx, a.NodeID); err != nil {
		t.Fatal(err)
	}

	// A run that fails with exit 3.
	bad := e2eID("caravan-e2e-fail")
	jobs = append(jobs, bad)
	if _, err := c.CreateJob(ctx, e2eJob(bad, 1, 3, "0")); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, bad, record.StateFailed)

	// A run that cannot fit: blocked evaluation, queued, then stopped.
	big := e2eID("caravan-e2e-big")
	jobs = append(jobs, big)
	if _, err := c.CreateJob(ctx, e2eJob(big, 1000, 0, "0")); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, big, record.StateQueued)
	// The blocked evaluation is created by the scheduler after the job's
	// first evaluation fails to place, so it can trail the queued summary.
	deadline := e2eDeadline(t, e2eWait)
	for {
		evs, err := c.BlockedEvaluations(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			if e.JobID == big && e.FailedTGAllocs["run"] != nil && e.FailedTGAllocs["run"].NodePool == "gpu" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no blocked evaluation with FailedTGAllocs[run] in pool gpu for the oversized run %s\n%s", big, describeJob(c, big))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := c.StopJob(ctx, "", big); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, big, record.StateStopped)

	// A job ID caravan does not own.
	foreign := e2eID("caravan-e2e-foreign")
	jobs = append(jobs, foreign)
	fj := e2eJob(foreign, 0, 0, "0")
	fj.Meta = map[string]string{"owner": "someone-else"}
	if _, err := c.RegisterJob(ctx, fj, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctx, e2eJob(foreign, 0, 0, "0")); !errors.Is(err, nomad.ErrConflict) {
		t.Fatalf("collision with a foreign job: %v", err)
	}
	own, err := c.CaravanJobs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range own {
		if j.ID == foreign {
			t.Fatal("a foreign job listed as caravan's")
		}
	}

	// Listings the autoscaler reads.
	if nodes, err := c.Nodes(ctx); err != nil || len(nodes) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	if pools, err := c.NodePools(ctx); err != nil || len(pools) < 2 {
		t.Fatalf("pools: %v", err)
	}
	if _, err := c.ClientStats(ctx, a.NodeID); err != nil {
		t.Logf("client stats (needs network access to the client): %v", err)
	}
	if _, err := c.Job(ctx, "", e2eID("caravan-e2e-missing")); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
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
