package nomad_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/hashicorp/nomad/api"
)

// replay serves recorded answers: each call of the Client under test is
// answered with the file set by next, so that every fixture is decoded by
// the same Client code that decodes the fake's answers.
type replay struct {
	t      *testing.T
	dir    string
	mu     sync.Mutex
	file   string
	status int
	seen   []string // "METHOD path" of requests, for asserting the request too
}

func (r *replay) next(file string, status int) {
	r.mu.Lock()
	r.file, r.status = file, status
	r.mu.Unlock()
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	file, status := r.file, r.status
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	b := readFixture(r.t, r.dir, file)
	if strings.HasSuffix(file, ".txt") && status == 404 {
		// get-job-missing.txt is "<body><status>\n"
		b = []byte(strings.TrimSuffix(strings.TrimSpace(string(b)), "404"))
	}
	w.Header().Set("X-Nomad-Index", "1")
	w.Header().Set("X-Nomad-KnownLeader", "true")
	w.Header().Set("X-Nomad-LastContact", "0")
	w.WriteHeader(status)
	w.Write(b)
}

func (r *replay) lastRequest() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

// TestContractEveryFixtureDecodes feeds every recorded answer through the
// Client method that reads it and checks the decoded facts. A fixture
// that no case covers fails the test, so new recordings get a case.
func TestContractEveryFixtureDecodes(t *testing.T) {
	dir := fixturesDir(t)
	rp := &replay{t: t, dir: dir}
	hs := httptest.NewServer(rp)
	defer hs.Close()
	c, err := nomad.New(nomad.Config{Address: hs.URL, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	covered := map[string]bool{"README.md": true, "NOMAD_VERSION": true, "jobspecs": true}
	check := func(file string, cond bool, format string, a ...any) {
		t.Helper()
		covered[file] = true
		if !cond {
			t.Errorf("%s: "+format, append([]any{file}, a...)...)
		}
	}
	must := func(file string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}

	for _, f := range []string{"jobspec-gpu-fits.json", "jobspec-gpu-too-big.json", "jobspec-fails-exit3.json"} {
		var req struct{ Job *api.Job }
		must(f, json.Unmarshal(readFixture(t, dir, f), &req))
		check(f, req.Job != nil && req.Job.ID != nil && len(req.Job.TaskGroups) == 1, "job not decoded")
	}

	rp.next("put-jobs-register-response.json", 200)
	var spec struct{ Job *api.Job }
	must("jobspec", json.Unmarshal(readFixture(t, dir, "jobspec-gpu-fits.json"), &spec))
	reg, err := c.RegisterJob(ctx, spec.Job, true, 0)
	must("register", err)
	check("put-jobs-register-response.json", reg.EvalID != "" && reg.JobModifyIndex == 30, "got %+v", reg)

	rp.next("put-job-plan-response.json", 200)
	plan, err := c.PlanJob(ctx, spec.Job)
	must("plan", err)
	check("put-job-plan-response.json", plan.Diff != nil && plan.Diff.Type == "Edited" && len(plan.Diff.Fields) == 1 &&
		plan.Annotations.DesiredTGUpdates["run"].DestructiveUpdate == 1, "got %+v", plan.Diff)

	rp.next("get-jobs-meta.json", 200)
	jobs, err := c.Jobs(ctx, "")
	must("jobs", err)
	check("get-jobs-meta.json", len(jobs) == 2 && jobs[0].Meta["caravan_experiment"] == "resnet" && rp.lastRequest() == "GET /v1/jobs", "got %d jobs", len(jobs))

	for _, f := range []string{"get-job-gpu-too-big.json", "get-job-gpu-too-big-stopped.json", "get-job-fails-exit3.json"} {
		rp.next(f, 200)
		j, err := c.Job(ctx, "", "x")
		must(f, err)
		stopped := j.Stop != nil && *j.Stop
		check(f, *j.NodePool == "gpu" && stopped == strings.Contains(f, "stopped"), "pool %v stop %v", *j.NodePool, stopped)
	}
	for f, want := range map[string][2]int{"get-job-gpu-too-big-summary.json": {1, 0}, "get-job-gpu-fits-summary.json": {0, 1}, "get-job-fails-exit3-summary.json": {0, 0}} {
		rp.next(f, 200)
		s, err := c.JobSummary(ctx, "", "x")
		must(f, err)
		check(f, s.Summary["run"].Queued == want[0] && s.Summary["run"].Running == want[1], "got %+v", s.Summary["run"])
	}
	rp.next("get-job-fails-exit3-evaluations.json", 200)
	evs, err := c.JobEvaluations(ctx, "", "fails-exit3")
	must("job evals", err)
	check("get-job-fails-exit3-evaluations.json", len(evs) == 1 && evs[0].Status == "complete", "got %d", len(evs))

	rp.next("get-job-gpu-fits-allocations.json", 200)
	stubs, err := c.JobAllocations(ctx, "", "gpu-fits")
	must("allocs", err)
	check("get-job-gpu-fits-allocations.json", len(stubs) == 1 && stubs[0].ClientStatus == "running", "got %d", len(stubs))

	rp.next("get-allocation-gpu-fits.json", 200)
	a, err := c.Allocation(ctx, "", "ee1b3075")
	must("alloc", err)
	check("get-allocation-gpu-fits.json", a.AllocatedResources.Tasks["train"].Devices[0].DeviceIDs[0] == "gpu0" && a.Job != nil, "devices not decoded")

	rp.next("get-allocation-fails-exit3.json", 200)
	a, err = c.Allocation(ctx, "", "01c82163")
	must("alloc", err)
	exit := -1
	for _, e := range a.TaskStates["train"].Events {
		if e.Type == "Terminated" {
			exit = e.ExitCode
		}
	}
	check("get-allocation-fails-exit3.json", a.ClientStatus == "failed" && exit == 3 && a.TaskStates["train"].Failed, "exit %d", exit)

	rp.next("get-evaluations.json", 200)
	evs, err = c.Evaluations(ctx, "")
	must("evals", err)
	blocked := 0
	for _, e := range evs {
		if e.Status == "blocked" && e.FailedTGAllocs["run"].ConstraintFiltered["missing devices"] == 1 {
			blocked++
		}
	}
	check("get-evaluations.json", blocked == 1, "blocked with missing devices = %d", blocked)

	rp.next("get-nodes-resources.json", 200)
	nodes, err := c.Nodes(ctx)
	must("nodes", err)
	gpus := 0
	for _, n := range nodes {
		if n.NodeResources != nil {
			for _, d := range n.NodeResources.Devices {
				gpus += len(d.Instances)
			}
		}
	}
	check("get-nodes-resources.json", len(nodes) == 2 && gpus == 2, "nodes %d gpus %d", len(nodes), gpus)

	for _, f := range []string{"get-node-gpu.json", "get-node-gpu-draining.json"} {
		rp.next(f, 200)
		n, err := c.Node(ctx, "50fd6692")
		must(f, err)
		draining := strings.Contains(f, "draining")
		check(f, n.NodePool == "gpu" && n.Drain == draining && (n.DrainStrategy != nil) == draining &&
			n.NodeResources.Devices[0].Attributes["memory"].IntVal != nil, "drain %v", n.Drain)
	}
	rp.next("post-node-drain-response.json", 200)
	must("drain", c.DrainNode(ctx, "50fd6692", time.Minute, map[string]string{"caravan": "scale-in"}))
	check("post-node-drain-response.json", rp.lastRequest() == "PUT /v1/node/50fd6692/drain", "request %s", rp.lastRequest())

	rp.next("get-node-gpu-allocations.json", 200)
	nallocs, err := c.NodeAllocations(ctx, "50fd6692")
	must("node allocs", err)
	check("get-node-gpu-allocations.json", len(nallocs) == 1 && nallocs[0].JobID == "gpu-fits", "got %d", len(nallocs))

	rp.next("get-node-pools.json", 200)
	pools, err := c.NodePools(ctx)
	must("pools", err)
	check("get-node-pools.json", len(pools) == 3 && pools[2].Name == "gpu", "got %d", len(pools))

	rp.next("get-client-allocation-stats.json", 200)
	as, err := c.AllocationStats(ctx, "ee1b3075")
	must("alloc stats", err)
	check("get-client-allocation-stats.json", as.ResourceUsage != nil && as.ResourceUsage.MemoryStats != nil, "no usage")

	rp.next("get-client-stats.json", 200)
	hs2, err := c.ClientStats(ctx, "")
	must("client stats", err)
	check("get-client-stats.json", len(hs2.DeviceStats) == 1 && len(hs2.DeviceStats[0].InstanceStats) == 2 && hs2.Memory.Total > 0, "got %+v", hs2.DeviceStats)

	rp.next("get-event-stream.ndjson", 200)
	sctx, cancel := context.WithCancel(ctx)
	ch, err := c.Events(sctx, "", 0, api.TopicJob, api.TopicEvaluation, api.TopicAllocation, api.TopicNode)
	must("events", err)
	counts := map[api.Topic]int{}
	for evs := range ch {
		if evs.Err != nil {
			if !errors.Is(evs.Err, io.EOF) {
				t.Errorf("event stream: %v", evs.Err)
			}
			break
		}
		for _, e := range evs.Events {
			counts[e.Topic]++
			var derr error
			switch e.Topic {
			case api.TopicJob:
				_, derr = e.Job()
			case api.TopicEvaluation:
				_, derr = e.Evaluation()
			case api.TopicAllocation:
				_, derr = e.Allocation()
			case api.TopicNode:
				_, derr = e.Node()
			}
			if derr != nil {
				t.Errorf("event %s/%s payload: %v", e.Topic, e.Type, derr)
			}
		}
	}
	cancel()
	check("get-event-stream.ndjson", counts[api.TopicJob] > 0 && counts[api.TopicEvaluation] > 0 && counts[api.TopicAllocation] > 0 && counts[api.TopicNode] > 0, "counts %v", counts)

	rp.next("put-var-response.json", 200)
	v, err := c.PutVariable(ctx, "", "caravan/runs/demo-1", map[string]string{"git_commit": "abc123", "spec": "{}"}, nomad.NoCAS)
	must("put var", err)
	check("put-var-response.json", v.ModifyIndex == 43 && v.Items["git_commit"] == "abc123", "got %+v", v)
	rp.next("get-var.json", 200)
	v, err = c.Variable(ctx, "", "caravan/runs/demo-1")
	must("get var", err)
	check("get-var.json", v.Items["spec"] == "{}" && rp.lastRequest() == "GET /v1/var/caravan/runs/demo-1", "got %+v", v)
	rp.next("get-vars-list.json", 200)
	vl, err := c.Variables(ctx, "", "caravan/")
	must("list vars", err)
	check("get-vars-list.json", len(vl) == 1 && vl[0].Path == "caravan/runs/demo-1", "got %d", len(vl))

	rp.next("get-client-fs-logs-stderr-plain.txt", 200)
	var buf bytes.Buffer
	must("logs", c.Logs(ctx, "01c82163", nomad.LogOptions{Task: "train", Stderr: true, Plain: true}, &buf))
	check("get-client-fs-logs-stderr-plain.txt", strings.Contains(buf.String(), "CUDA out of memory"), "got %q", buf.String())
	rp.next("get-client-fs-logs-stdout-framed.json", 200)
	buf.Reset()
	must("logs framed", c.Logs(ctx, "01c82163", nomad.LogOptions{Task: "train"}, &buf))
	check("get-client-fs-logs-stdout-framed.json", buf.String() == "starting\n", "got %q", buf.String())

	rp.next("delete-job-stop-response.json", 200)
	evalID, err := c.StopJob(ctx, "", "gpu-too-big")
	must("stop", err)
	check("delete-job-stop-response.json", evalID == "7ff37013-d46f-2b23-fcc7-74cd3f2be260" && rp.lastRequest() == "DELETE /v1/job/gpu-too-big", "eval %q", evalID)

	missing := string(readFixture(t, dir, "get-job-missing.txt"))
	status, _ := strconv.Atoi(strings.TrimSpace(missing)[len(strings.TrimSpace(missing))-3:])
	rp.next("get-job-missing.txt", status)
	_, err = c.Job(ctx, "", "does-not-exist")
	check("get-job-missing.txt", errors.Is(err, nomad.ErrNotFound) && strings.Contains(err.Error(), `job "does-not-exist" not found`), "got %v", err)

	ents, err := os.ReadDir(dir)
	must("readdir", err)
	var uncovered []string
	for _, e := range ents {
		if !covered[e.Name()] {
			uncovered = append(uncovered, e.Name())
		}
	}
	sort.Strings(uncovered)
	if len(uncovered) > 0 {
		t.Errorf("fixtures without a decoding case (add one): %v", uncovered)
	}
}
