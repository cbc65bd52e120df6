//go:build e2e

package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The journey's runs. sweepScript writes three steps of a loss that is
// lowest for lr = 0.01 (|lr - 0.01| + 1/step), a line a second, then waits
// for the agent to read the last; crashScript fails as a training script
// does; stallScript reports step 3 and then hangs without printing or
// using CPU; queueScript holds its GPU.
const (
	sweepScript = `for i in 1 2 3; do awk -v lr="$CARAVAN_PARAM_LR" -v i=$i 'BEGIN { d = lr - 0.01; if (d < 0) d = -d; printf "{\"step\": %d, \"loss\": %.4f}\n", i, d + 1/i }' >> "$CARAVAN_METRICS"; echo "step $i lr=$CARAVAN_PARAM_LR"; sleep 1; done; sleep 4`
	crashScript = `echo 'epoch 1'; echo 'Traceback (most recent call last):' >&2; echo 'ZeroDivisionError: division by zero' >&2; exit 3`
	stallScript = `echo 'step 1'; for i in 1 2 3; do echo "{\"step\": $i, \"loss\": 0.5}" >> "$CARAVAN_METRICS"; done; exec /bin/sleep 600`
	queueScript = `exec /bin/sleep 120`
	// leakScript grows 8 MiB/s until the kernel kills it at its 200 MiB
	// limit; set -e ends the writer once tail is gone, so the run exits
	// with tail's 137.
	leakScript = `echo 'loading shards'; (set -e; for i in $(seq 1 60); do head -c 8M /dev/zero; sleep 1; done) | tail`
)

// TestJourney plays what a person watches: a sweep writing metrics that
// compare ranks, a leak killed at its memory limit, a crash, a hang stopped
// by stall_timeout, more one-GPU runs than GPUs in a queue that says why
// and in which order, a clone with an edited param followed with logs -f,
// and then, every job purged, the history answering from the records.
func TestJourney(t *testing.T) {
	s := newSuite(t)
	if !s.agent() {
		t.Skip("RIG_GPU_CLIENT_ADDR is not set: the journey needs the rig's GPU client, where it runs caravan agent (make e2e starts it)")
	}
	dir := s.dir()
	writeFile(t, filepath.Join(dir, "sweep.hcl"), s.experiment("sweep", sweepScript, 0, "0.1", "0.03", "0.01", "0.001"))
	writeFile(t, filepath.Join(dir, "crash.hcl"), s.experiment("crash", crashScript, 0, "1"))
	writeFile(t, filepath.Join(dir, "leak.hcl"), strings.Replace(s.experiment("leak", leakScript, 0, "1"), `memory = "64MiB"`, `memory = "200MiB"`, 1))
	writeFile(t, filepath.Join(dir, "stall.hcl"), strings.Replace(s.experiment("stall", stallScript, 0, "1"),
		"  retries = 0", "  retries = 0\n  stall_timeout = \"15s\"\n  on_stall = \"stop\"", 1))
	s.must(0, "apply", dir)

	t.Log("the sweep writes metrics; compare names the run with the lowest loss")
	sweep := s.waitStates("sweep", 4, "complete")
	lrOf := map[string]string{}
	var best, toClone string
	for _, r := range sweep {
		lrOf[r.ID] = r.param("lr")
		switch r.param("lr") {
		case "0.01":
			best = r.ID
		case "0.03":
			toClone = r.ID
		}
	}
	r := s.eventually(0, []string{"Best run: " + best + ", lowest loss 0.3333 at step 3"}, "compare", "-experiment", s.prefix+"sweep")
	contains(t, r.stdout, "loss LAST", "lr")
	r = s.must(0, "ls", "-experiment", s.prefix+"sweep", "-sort", "loss", "-columns", "id,lr,loss")
	if lines := strings.Split(r.stdout, "\n"); len(lines) < 2 || !strings.HasPrefix(lines[1], best) {
		t.Errorf("ls -sort loss does not list the best run first:\n%s", r.stdout)
	}

	t.Log("the leak is killed at its limit; report says OOM with its growth rate")
	leak := s.waitStates("leak", 1, "failed")[0]
	s.eventually(0, []string{"killed at its 200 MiB limit, growing"}, "report", leak.ID)

	t.Log("the crash fails with its exit code and traceback")
	crash := s.waitStates("crash", 1, "failed")[0]
	r = s.must(0, "report", crash.ID)
	contains(t, r.stdout, "exited with code 3", "ZeroDivisionError", "`caravan logs", crash.ID+" -stderr`")

	t.Log("the hang is found stalled after 15 s without output, metric or CPU, and stopped")
	stall := s.waitStates("stall", 1, "stopped")[0]
	r = s.eventually(0, []string{"stalled since", "after step 3; stopped by the controller"}, "report", stall.ID)
	if strings.Contains(r.stdout, "timeout") && !strings.Contains(r.stdout, "stall_timeout") {
		t.Errorf("report blames a timeout:\n%s", r.stdout)
	}
	s.eventually(0, []string{`Stopped:    by caravan controller (on_stall = "stop"): stalled`}, "show", stall.ID)

	t.Log("five one-GPU runs on two GPUs: queue lists the waiting ones in sweep order, with why")
	// Applied now, and stopped as soon as the queue is checked: they hold
	// both of the rig's GPUs meanwhile.
	writeFile(t, filepath.Join(dir, "queue.hcl"), strings.Replace(s.experiment("queue", queueScript, 1, "1", "2", "3", "4", "5"),
		"  retries = 0", "  retries = 0\n  timeout = \"10m\"", 1))
	s.must(0, "apply", dir)
	s.journeyQueue()

	t.Log("a clone with an edited param, followed to its end with logs -f")
	r = s.must(0, "rerun", toClone, "-param", "lr=0.02")
	contains(t, r.stdout, "a clone of "+toClone+" with lr 0.03 → 0.02")
	clone := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(r.stdout, "Submitted "))[0], ",")
	r = s.must(0, "logs", "-f", clone)
	contains(t, r.stdout, "step 3 lr=0.02")
	s.eventually(0, []string{"Cloned:     from " + toClone + ", with lr 0.03 → 0.02"}, "show", clone)

	t.Log("every run's outcome is recorded; then Nomad loses every job")
	for _, id := range []string{crash.ID, stall.ID, leak.ID, best, clone} {
		s.eventually(0, []string{"Ended:"}, "show", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobs, err := s.cl.Jobs(ctx, s.ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := s.cl.PurgeJob(ctx, j.Namespace, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	failed := s.ls("-state", "failed")
	var failedIDs []string
	for _, f := range failed {
		if f.HasJob {
			t.Errorf("run %s still has a job after the purge", f.ID)
		}
		failedIDs = append(failedIDs, f.ID)
	}
	slices.Sort(failedIDs)
	want := []string{crash.ID, leak.ID}
	slices.Sort(want)
	if !slices.Equal(failedIDs, want) {
		t.Errorf("ls -state failed after the purge: %v, want the crash and the leak %v", failedIDs, want)
	}
	r = s.must(0, "show", stall.ID)
	contains(t, r.stdout, "gone from Nomad", "State:      stopped", "stalled since")
	r = s.must(0, "report", stall.ID)
	contains(t, r.stdout, "stalled since", "after step 3")
	r = s.must(0, "report", crash.ID)
	contains(t, r.stdout, "ZeroDivisionError", "as recorded at")
	r = s.must(0, "report", leak.ID)
	contains(t, r.stdout, "killed at its 200 MiB limit, growing")
	r = s.must(0, "logs", crash.ID, "-stderr")
	contains(t, r.stdout, "ZeroDivisionError: division by zero")
	s.must(3, "logs", "-f", crash.ID)
	r = s.must(0, "compare", best, clone)
	contains(t, r.stdout, "Best run: "+best)
}

// journeyQueue checks, once the queue experiment's five runs are
// applied, that the waiting ones are listed in sweep order with the
// reason, that Nomad registered them in that order, and that freed GPUs go
// to the first in the queue.
func (s *suite) journeyQueue() {
	t := s.t
	t.Helper()
	var q []queueRow
	deadline := s.deadline(waitRun)
	for {
		rows := s.ls("-experiment", s.prefix+"queue")
		running := 0
		for _, r := range rows {
			if r.State == "running" {
				running++
			}
		}
		q = s.queue()
		if running >= 1 && len(q) == 5-running && len(q) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not settle: %d running, queue %+v\n%s", running, q, s.describe(rows))
		}
		time.Sleep(pollEvery)
	}
	r := s.must(0, "queue")
	contains(t, r.stdout, "pool gpu:", "#  RUN", "1 GPU", "GPUs busy", "if runs end at their timeout")
	rows := s.ls("-experiment", s.prefix+"queue")
	lr := map[string]string{}
	for _, r := range rows {
		lr[r.ID] = r.param("lr")
	}
	var order []string
	for i, e := range q {
		order = append(order, lr[e.ID])
		if e.Position != i+1 || !strings.Contains(e.Reason, "of 2 GPUs busy") {
			t.Errorf("queue entry %d: %+v", i, e)
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("the queue is not in sweep order: lr %v", order)
	}
	t.Log("Nomad registered the sweep in its order")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobs, err := s.cl.Jobs(ctx, s.ns)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(jobs, func(a, b *api.JobListStub) int { return cmp.Compare(a.CreateIndex, b.CreateIndex) })
	var registered []string
	for _, j := range jobs {
		if v, ok := lr[j.ID]; ok {
			registered = append(registered, v)
		}
	}
	if !slices.IsSorted(registered) || len(registered) != 5 {
		t.Errorf("registration order by lr: %v", registered)
	}
	t.Log("freed GPUs go to the head of the queue")
	for _, r := range rows {
		if r.State == "running" {
			s.must(0, "stop", r.ID, "-reason", "make room")
		}
	}
	first, last := q[0].ID, q[len(q)-1].ID
	s.waitStatesOf(first, "queue", "running")
	if state := s.stateOf("queue", last); state != "queued" {
		t.Errorf("the last in the queue is %s once the first started", state)
	}
	s.must(0, "stop", "-experiment", s.prefix+"queue")
}

// queueRow is the part of `caravan queue -json` the journey reads.
type queueRow struct {
	Position int    `json:"position"`
	ID       string `json:"id"`
	Reason   string `json:"reason"`
}

func (s *suite) queue() []queueRow {
	s.t.Helper()
	r := s.quiet("queue", "-json")
	if r.code != 0 {
		s.t.Fatalf("caravan queue -json: exit %d\n%s", r.code, r.stderr)
	}
	var q []queueRow
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil {
		s.t.Fatalf("queue -json: %v", err)
	}
	return q
}

func (s *suite) stateOf(experiment, id string) string {
	for _, r := range s.ls("-experiment", s.prefix+experiment) {
		if r.ID == id {
			return r.State
		}
	}
	return fmt.Sprintf("absent (%s)", id)
}
