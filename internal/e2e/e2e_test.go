//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// longScript runs until stopped. exec makes sleep the task's process, so
// Nomad's kill signal reaches it directly: a shell waiting on a child defers
// SIGINT until the child exits, and without cgroups the orphaned sleep
// would outlive the stopped allocation.
const longScript = "exec /bin/sleep 600"

func TestEndToEnd(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	writeFile(t, filepath.Join(dir, "ok.hcl"), s.experiment("ok", "echo hello lr=$CARAVAN_PARAM_LR; echo progress >&2", 1, "0.1", "0.2"))
	writeFile(t, filepath.Join(dir, "oom.hcl"), s.experiment("oom", "echo 'RuntimeError: CUDA out of memory' >&2; exit 3", 1, "0.5"))

	t.Log("validate, then plan shows changes")
	s.must(0, "validate", dir)
	r := s.must(2, "plan", dir, "-detailed-exitcode")
	contains(t, r.stdout, "3 to create", "pool=gpu gpus=1 driver=raw_exec")

	t.Log("apply submits, a second plan and apply do nothing")
	r = s.must(0, "apply", dir)
	contains(t, r.stdout, "Apply complete: 3 registered")
	s.must(0, "plan", dir, "-detailed-exitcode")
	r = s.must(0, "apply", dir)
	contains(t, r.stdout, "Nothing to apply.")

	t.Log("runs finish: ok completes, oom fails with exit code 3")
	ok := s.waitStates("ok", 2, "complete")
	bad := s.waitStates("oom", 1, "failed")
	for _, rr := range append(ok, bad...) {
		if !rr.HasRecord {
			t.Errorf("run %s has no record", rr.ID)
		}
	}

	r = s.must(0, "ls")
	contains(t, r.stdout, ok[0].ID, bad[0].ID, "complete", "failed")
	// Only this session's lines: a shared cluster lists other people's
	// runs too, with IDs this suite does not choose.
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.Contains(line, s.prefix) && len(line) > 80 {
			t.Errorf("ls line wider than 80 columns: %q", line)
		}
	}
	r = s.must(0, "status")
	contains(t, r.stdout, "pool gpu", "nodes:", "GPUs free")

	r = s.must(0, "show", ok[0].ID)
	contains(t, r.stdout, "State:      complete", "/ui/jobs/"+ok[0].ID+"@", "exit code 0", "Spec hash:")
	r = s.must(0, "logs", ok[0].ID)
	contains(t, r.stdout, "hello lr=")
	r = s.must(0, "logs", ok[0].ID, "-stderr")
	contains(t, r.stdout, "progress")

	r = s.must(0, "show", bad[0].ID)
	contains(t, r.stdout, "State:      failed", "exit code 3")
	r = s.must(0, "logs", bad[0].ID, "-stderr")
	contains(t, r.stdout, "CUDA out of memory")

	t.Log("rerun resubmits the recorded job under a new ID")
	r = s.must(0, "rerun", bad[0].ID)
	contains(t, r.stdout, "a rerun of "+bad[0].ID)
	reruns := s.waitStates("oom", 2, "failed")
	var rerun row
	for _, rr := range reruns {
		if rr.ID != bad[0].ID {
			rerun = rr
		}
	}
	if rerun.RerunOf != bad[0].ID {
		t.Errorf("rerun %s: rerun_of %q, want %s", rerun.ID, rerun.RerunOf, bad[0].ID)
	}
	// The rerun is ad hoc: the directory's plan does not see it.
	s.must(0, "plan", dir, "-detailed-exitcode")

	t.Log("a run that cannot be placed waits, and status and show say why")
	writeFile(t, filepath.Join(dir, "huge.hcl"), s.experiment("huge", "true", 64, "1"))
	s.must(0, "apply", dir)
	huge := s.waitStates("huge", 1, "queued")
	// The run is queued as soon as it is registered; why it waits is known
	// only once the scheduler has processed its evaluation and kept a
	// blocked one, which trails the apply on a real cluster.
	s.eventually(0, []string{"queued:", "waiting for", "missing devices", "oldest:"}, "status")
	s.eventually(0, []string{"State:      queued", "Waiting:", "missing devices"}, "show", huge[0].ID)
	s.must(0, "stop", huge[0].ID)
	s.waitStates("huge", 1, "stopped")

	t.Log("stop a long run; prune a no longer declared one")
	long := filepath.Join(dir, "long.hcl")
	writeFile(t, long, s.experiment("long", longScript, 0, "1", "2"))
	s.must(0, "apply", dir)
	longRuns := s.waitStates("long", 2, "running")
	// Stop the run that stays declared (lr=1); lr=2 is pruned below.
	stay := longRuns[0]
	if stay.param("lr") != "1" {
		stay = longRuns[1]
	}
	r = s.must(0, "stop", stay.ID)
	contains(t, r.stdout, "Stopped run "+stay.ID)
	s.waitStatesOf(stay.ID, "long", "stopped")

	writeFile(t, long, s.experiment("long", longScript, 0, "1"))
	r = s.must(2, "plan", dir, "-detailed-exitcode")
	contains(t, r.stdout, "apply -prune stops it")
	r = s.must(0, "apply", dir)
	if strings.Contains(r.stdout, "1 stopped") {
		t.Error("apply without -prune stopped a run")
	}
	r = s.must(0, "apply", dir, "-prune")
	contains(t, r.stdout, "1 stopped")
	s.waitStates("long", 2, "stopped")
	s.must(0, "plan", dir, "-detailed-exitcode")

	t.Log("stop -experiment")
	writeFile(t, long, s.experiment("long", longScript, 0, "3"))
	s.must(0, "apply", dir)
	s.waitStates("long", 3, "running", "stopped")
	s.must(0, "stop", "-experiment", s.prefix+"long")
	s.waitStates("long", 3, "stopped")

	t.Log("saved plans apply once, then are stale")
	writeFile(t, filepath.Join(dir, "more.hcl"), s.experiment("more", "true", 0, "7"))
	planFile := filepath.Join(t.TempDir(), "plan.json")
	s.must(2, "plan", dir, "-out", planFile, "-detailed-exitcode")
	saved, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("a saved plan whose job was edited by hand is refused")
	writeFile(t, planFile, strings.Replace(string(saved), `"command":"/bin/sh"`, `"command":"/bin/bash"`, 1))
	r = s.must(1, "apply", "-plan", planFile)
	contains(t, r.stderr, "changed after caravan plan wrote it", "caravan plan -out FILE")
	writeFile(t, planFile, string(saved))
	r = s.must(0, "apply", "-plan", planFile)
	contains(t, r.stdout, "1 registered")
	r = s.must(1, "apply", "-plan", planFile)
	contains(t, r.stderr, "stale")

	t.Log("gpu_memory compares with the device's memory attribute in Nomad's units (MiB)")
	memDir := s.dir()
	withMem := func(name, size string) string {
		return strings.Replace(s.experiment(name, "true", 1, "1"), "gpus   = 1", "gpus   = 1\n    gpu_memory = \""+size+"\"", 1)
	}
	writeFile(t, filepath.Join(memDir, "fits.hcl"), withMem("memfits", "1GiB"))
	writeFile(t, filepath.Join(memDir, "big.hcl"), withMem("membig", "1024TiB"))
	s.must(0, "apply", memDir)
	s.waitStates("memfits", 1, "complete")
	big := s.waitStates("membig", 1, "queued")
	s.eventually(0, []string{"State:      queued", "missing devices"}, "show", big[0].ID)
	s.must(0, "stop", big[0].ID)

	t.Log("run FILE submits one experiment from outside a directory")
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "one.hcl"), s.experiment("adhoc", "true", 0, "9"))
	r = s.must(0, "run", filepath.Join(other, "one.hcl"))
	contains(t, r.stdout, "1 registered")
	s.waitStates("adhoc", 1, "complete")
}

func TestEndToEndFaults(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	writeFile(t, filepath.Join(dir, "x.hcl"), s.experiment("faults", "true", 0, "1"))

	t.Log("an unreachable Nomad")
	r := s.must(1, "plan", dir, "-address", "http://127.0.0.1:1")
	contains(t, r.stderr, "cannot reach Nomad")

	t.Log("a namespace that does not exist")
	nsDir := s.dir()
	missing := s.prefix + "-missing"
	writeFile(t, filepath.Join(nsDir, "ns.hcl"), strings.Replace(s.experiment("ns", "true", 0, "1"), `pool    = "gpu"`, "pool    = \"gpu\"\n  namespace = \""+missing+"\"", 1))
	r = s.must(1, "apply", nsDir)
	contains(t, r.stderr, "namespace", missing, "registered 0 of 1")

	t.Log("a job ID caravan does not own")
	r = s.must(0, "plan", dir, "-json")
	var doc struct {
		Experiments []struct{ Create []struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Experiments) == 0 || len(doc.Experiments[0].Create) == 0 {
		t.Fatalf("plan -json: %v", err)
	}
	id := doc.Experiments[0].Create[0].ID
	foreign := fmt.Sprintf(`{"Job":{"ID":%q,"Name":%q,"Type":"batch","Datacenters":["*"],"Meta":{"caravan_experiment":%q},"TaskGroups":[{"Name":"x","Count":1,"Tasks":[{"Name":"x","Driver":"raw_exec","Config":{"command":"/bin/true"}}]}]}}`, id, id, s.prefix+"faults")
	if _, err := s.cl.API().Raw().Write("/v1/jobs", json.RawMessage(foreign), nil, &api.WriteOptions{Namespace: s.ns}); err != nil {
		t.Fatalf("register a foreign job: %v", err)
	}
	// caravan's cleanup never touches jobs it does not own: purge it here.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.cl.PurgeJob(ctx, "", id); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("purge the foreign job %s: %v", id, err)
		}
	})
	r = s.must(1, "apply", dir)
	contains(t, r.stderr, "caravan does not own it")
	r = s.must(1, "stop", id)
	contains(t, r.stderr, "not a caravan run")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Log("a corrupt record")
	bogus := s.prefix + "faults-deadbeef"
	if _, err := s.cl.PutVariable(ctx, "", record.Ref{Project: s.prefix, RunID: bogus}.Path(), map[string]string{"record": "{not json"}, nomad.NoCAS); err != nil {
		t.Fatalf("write a corrupt record: %v", err)
	}
	r = s.must(1, "show", bogus)
	contains(t, r.stderr, "not a valid caravan record")
	r = s.must(1, "rerun", bogus)
	contains(t, r.stderr, "not a valid caravan record")
}
