package nomad_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// fakeCall makes one raw request to the fake and returns status and body.
func fakeCall(t *testing.T, srv *nomadtest.Server, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func fakeJSON(t *testing.T, srv *nomadtest.Server, method, path string, body []byte) any {
	t.Helper()
	status, b := fakeCall(t, srv, method, path, body)
	if status != 200 {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return decodeAny(t, method+" "+path, b)
}

// same compares a fixture with the fake's answer and reports every
// difference under the fixture's name.
func same(t *testing.T, fixture string, want, got any, dynamic ...string) {
	t.Helper()
	dyn := map[string]bool{}
	for _, k := range dynamic {
		dyn[k] = true
	}
	var d diffs
	compareJSON(&d, fixture, want, got, dyn)
	for _, x := range d {
		t.Errorf("%s", x)
	}
}

// TestContractFakeMatchesFixtures replays the recording session against
// the fake (the same nodes, the same jobspecs, the same requests) and
// compares each answer with the recorded one field by field.
func TestContractFakeMatchesFixtures(t *testing.T) {
	dir := fixturesDir(t)
	fx := func(name string) any { return decodeAny(t, name, readFixture(t, dir, name)) }
	srv := nomadtest.New(t)
	srv.AddNode(nomadtest.NodeSpec{Name: "vm", Pool: "default"})
	gpuNode := srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	srv.AddNodePool("gpu", "")

	// Register, plan, summaries, allocations.
	reg := fakeJSON(t, srv, "PUT", "/v1/jobs", readFixture(t, dir, "jobspec-gpu-fits.json"))
	same(t, "put-jobs-register-response.json", fx("put-jobs-register-response.json"), reg)
	allocs := srv.Allocs("default", "gpu-fits")
	if len(allocs) != 1 {
		t.Fatalf("gpu-fits allocations: %d", len(allocs))
	}
	srv.StartAlloc(allocs[0].ID)
	fakeJSON(t, srv, "PUT", "/v1/jobs", readFixture(t, dir, "jobspec-gpu-too-big.json"))

	same(t, "get-jobs-meta.json", fx("get-jobs-meta.json"), fakeJSON(t, srv, "GET", "/v1/jobs?meta=true", nil))
	same(t, "get-job-gpu-too-big.json", fx("get-job-gpu-too-big.json"), fakeJSON(t, srv, "GET", "/v1/job/gpu-too-big", nil))
	same(t, "get-job-gpu-too-big-summary.json", fx("get-job-gpu-too-big-summary.json"), fakeJSON(t, srv, "GET", "/v1/job/gpu-too-big/summary", nil))
	same(t, "get-job-gpu-fits-summary.json", fx("get-job-gpu-fits-summary.json"), fakeJSON(t, srv, "GET", "/v1/job/gpu-fits/summary", nil))
	same(t, "get-job-gpu-fits-allocations.json", fx("get-job-gpu-fits-allocations.json"), fakeJSON(t, srv, "GET", "/v1/job/gpu-fits/allocations", nil), "TaskStates")
	same(t, "get-allocation-gpu-fits.json", fx("get-allocation-gpu-fits.json"), fakeJSON(t, srv, "GET", "/v1/allocation/"+allocs[0].ID, nil),
		"Events", "Metrics", "Resources", "TaskResources", "SharedResources", "NetworkStatus")
	same(t, "get-node-gpu-allocations.json", fx("get-node-gpu-allocations.json"), fakeJSON(t, srv, "GET", "/v1/node/"+gpuNode+"/allocations", nil),
		"Events", "Metrics", "Resources", "TaskResources", "SharedResources", "NetworkStatus")

	// Plan after changing one meta value, as recorded.
	var spec map[string]any
	json.Unmarshal(readFixture(t, dir, "jobspec-gpu-fits.json"), &spec)
	spec["Job"].(map[string]any)["Meta"].(map[string]any)["caravan_params_lr"] = "0.002"
	spec["Diff"] = true
	body, _ := json.Marshal(spec)
	same(t, "put-job-plan-response.json", fx("put-job-plan-response.json"), fakeJSON(t, srv, "PUT", "/v1/job/gpu-fits/plan", body))

	// Evaluations: compare each kind the fake produced with the recorded one
	// of the same kind.
	evals := fakeJSON(t, srv, "GET", "/v1/evaluations", nil).([]any)
	recorded := fx("get-evaluations.json").([]any)
	kindOf := func(e any) string {
		m := e.(map[string]any)
		_, failed := m["FailedTGAllocs"]
		return m["TriggeredBy"].(string) + "/" + m["Status"].(string) + "/" + map[bool]string{true: "failed", false: "ok"}[failed]
	}
	byKind := map[string]any{}
	for _, e := range recorded {
		byKind[kindOf(e)] = e
	}
	compared := 0
	for _, e := range evals {
		if want, ok := byKind[kindOf(e)]; ok {
			same(t, "get-evaluations.json("+kindOf(e)+")", want, e, "JobID", "QueuedAllocations", "DesiredTGUpdates", "NodesAvailable", "FailedTGAllocs")
			compareShape(&diffs{}, "", want, e)
			compared++
		}
	}
	if compared < 3 {
		t.Errorf("only %d of the fake's evaluations have a recorded counterpart", compared)
	}

	// Nodes, pools, drain.
	same(t, "get-nodes-resources.json", fx("get-nodes-resources.json"), fakeJSON(t, srv, "GET", "/v1/nodes?resources=true", nil),
		"Attributes", "Drivers", "NodeResources", "ReservedResources", "Version", "Address")
	same(t, "get-node-gpu.json", fx("get-node-gpu.json"), fakeJSON(t, srv, "GET", "/v1/node/"+gpuNode, nil),
		"Attributes", "Drivers", "NodeResources", "Events", "Links", "HostNetworks", "CgroupParent", "Meta")
	same(t, "get-node-pools.json", fx("get-node-pools.json"), fakeJSON(t, srv, "GET", "/v1/node/pools", nil))
	drain := []byte(`{"NodeID":"` + gpuNode + `","DrainSpec":{"Deadline":60000000000,"IgnoreSystemJobs":false},"MarkEligible":false,"Meta":{"caravan":"scale-in"}}`)
	same(t, "post-node-drain-response.json", fx("post-node-drain-response.json"), fakeJSON(t, srv, "PUT", "/v1/node/"+gpuNode+"/drain", drain))
	same(t, "get-node-gpu-draining.json", fx("get-node-gpu-draining.json"), fakeJSON(t, srv, "GET", "/v1/node/"+gpuNode, nil),
		"Attributes", "Drivers", "NodeResources", "Events", "Links", "HostNetworks", "CgroupParent", "Meta", "AccessorID")

	// Client agent endpoints.
	same(t, "get-client-stats.json", fx("get-client-stats.json"), fakeJSON(t, srv, "GET", "/v1/client/stats?node_id="+gpuNode, nil),
		"CPU", "Memory", "DiskStats", "AllocDirStats", "CPUTicksConsumed", "Stats", "Summary")
	same(t, "get-client-allocation-stats.json", fx("get-client-allocation-stats.json"), fakeJSON(t, srv, "GET", "/v1/client/allocation/"+allocs[0].ID+"/stats", nil))

	// Stop, as recorded, and the job afterwards.
	same(t, "delete-job-stop-response.json", fx("delete-job-stop-response.json"), fakeJSON(t, srv, "DELETE", "/v1/job/gpu-too-big", nil))
	same(t, "get-job-gpu-too-big-stopped.json", fx("get-job-gpu-too-big-stopped.json"), fakeJSON(t, srv, "GET", "/v1/job/gpu-too-big", nil))

	// The crashing run: exit 3 with CUDA OOM on stderr.
	srv.CompleteAlloc(allocs[0].ID) // frees the GPUs; the node stays drained, so undrain it first
	fakeJSON(t, srv, "PUT", "/v1/node/"+gpuNode+"/drain", []byte(`{"DrainSpec":null,"MarkEligible":true}`))
	fakeJSON(t, srv, "PUT", "/v1/jobs", readFixture(t, dir, "jobspec-fails-exit3.json"))
	crash := srv.Allocs("default", "fails-exit3")
	if len(crash) != 1 {
		t.Fatalf("fails-exit3 allocations: %d", len(crash))
	}
	srv.StartAlloc(crash[0].ID)
	srv.WriteLog(crash[0].ID, "train", false, "starting\n")
	srv.WriteLog(crash[0].ID, "train", true, "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
	srv.FailAlloc(crash[0].ID, 3)
	same(t, "get-allocation-fails-exit3.json", fx("get-allocation-fails-exit3.json"), fakeJSON(t, srv, "GET", "/v1/allocation/"+crash[0].ID, nil),
		"Metrics", "Resources", "TaskResources", "SharedResources", "NetworkStatus", "Job", "AllocatedResources")
	same(t, "get-job-fails-exit3.json", fx("get-job-fails-exit3.json"), fakeJSON(t, srv, "GET", "/v1/job/fails-exit3", nil))
	same(t, "get-job-fails-exit3-summary.json", fx("get-job-fails-exit3-summary.json"), fakeJSON(t, srv, "GET", "/v1/job/fails-exit3/summary", nil))
	same(t, "get-job-fails-exit3-evaluations.json", fx("get-job-fails-exit3-evaluations.json"), fakeJSON(t, srv, "GET", "/v1/job/fails-exit3/evaluations", nil))
	status, plain := fakeCall(t, srv, "GET", "/v1/client/fs/logs/"+crash[0].ID+"?task=train&type=stderr&plain=true&origin=start", nil)
	if want := readFixture(t, dir, "get-client-fs-logs-stderr-plain.txt"); status != 200 || string(plain) != string(want) {
		t.Errorf("get-client-fs-logs-stderr-plain.txt: got %d %q, want %q", status, plain, want)
	}
	same(t, "get-client-fs-logs-stdout-framed.json", fx("get-client-fs-logs-stdout-framed.json"),
		fakeJSON(t, srv, "GET", "/v1/client/fs/logs/"+crash[0].ID+"?task=train&type=stdout&origin=start", nil))

	// Variables.
	put := fakeJSON(t, srv, "PUT", "/v1/var/caravan/runs/demo-1", []byte(`{"Path":"caravan/runs/demo-1","Items":{"git_commit":"abc123","spec":"{}"}}`))
	same(t, "put-var-response.json", fx("put-var-response.json"), put)
	same(t, "get-var.json", fx("get-var.json"), fakeJSON(t, srv, "GET", "/v1/var/caravan/runs/demo-1", nil))
	same(t, "get-vars-list.json", fx("get-vars-list.json"), fakeJSON(t, srv, "GET", "/v1/vars?prefix=caravan/", nil))

	// 404, byte for byte.
	status, missing := fakeCall(t, srv, "GET", "/v1/job/does-not-exist", nil)
	if got, want := string(missing)+itoa(status)+"\n", string(readFixture(t, dir, "get-job-missing.txt")); got != want {
		t.Errorf("get-job-missing.txt: got %q, want %q", got, want)
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestContractEventStream compares the fake's event stream with the
// recorded one: the envelope, and for every (topic, type) both produce,
// the payload's keys and the keys of the object it carries.
func TestContractEventStream(t *testing.T) {
	dir := fixturesDir(t)
	type shape struct{ payload, object map[string]bool }
	collect := func(r io.Reader, into map[string][]shape, envelope map[string]bool, limit int) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		n := 0
		for sc.Scan() && (limit == 0 || n < limit) {
			var line struct {
				Index  uint64
				Events []map[string]any
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("event line %q: %v", sc.Text(), err)
			}
			for _, e := range line.Events {
				n++
				for k := range e {
					envelope[k] = true
				}
				key := e["Topic"].(string) + "/" + e["Type"].(string)
				p := e["Payload"].(map[string]any)
				s := shape{payload: map[string]bool{}, object: map[string]bool{}}
				for k, v := range p {
					s.payload[k] = true
					if m, ok := v.(map[string]any); ok && k == e["Topic"] {
						for ok := range m {
							s.object[ok] = true
						}
					}
				}
				into[key] = append(into[key], s)
			}
		}
	}
	want, wantEnv := map[string][]shape{}, map[string]bool{}
	collect(bytes.NewReader(readFixture(t, dir, "get-event-stream.ndjson")), want, wantEnv, 0)

	srv := nomadtest.New(t)
	srv.HeartbeatInterval = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/event/stream?topic=Job&topic=Evaluation&topic=Allocation&topic=Node&index=0", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	node := srv.AddNode(nomadtest.NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	fakeJSON(t, srv, "PUT", "/v1/jobs", readFixture(t, dir, "jobspec-gpu-fits.json"))
	a := srv.Allocs("default", "gpu-fits")[0]
	srv.StartAlloc(a.ID)
	fakeJSON(t, srv, "PUT", "/v1/jobs", readFixture(t, dir, "jobspec-gpu-too-big.json"))
	fakeCall(t, srv, "DELETE", "/v1/job/gpu-too-big?purge=true", nil)
	_ = node

	got, gotEnv := map[string][]shape{}, map[string]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(resp.Body, got, gotEnv, 12)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancel()
		<-done
	}
	same(t, "event envelope", toAny(wantEnv), toAny(gotEnv))
	common := 0
	// Each event the fake sent must have the payload keys and object keys
	// of some recorded event of the same topic and type (one type carries
	// objects at different stages, e.g. pending and complete evaluations).
	for k, gs := range got {
		ws, ok := want[k]
		if !ok {
			continue
		}
		common++
		for _, g := range gs {
			matched := false
			var last diffs
			for _, w := range ws {
				var d diffs
				compareJSON(&d, "event "+k, map[string]any{"payload": toAny(w.payload), "object": toAny(w.object)},
					map[string]any{"payload": toAny(g.payload), "object": toAny(g.object)}, nil)
				if len(d) == 0 {
					matched = true
					break
				}
				last = d
			}
			if !matched {
				t.Errorf("event %s matches no recorded shape; e.g. %v", k, last)
			}
		}
	}
	if common < 4 {
		t.Errorf("only %d (topic, type) pairs in common with the recording: got %v", common, keysOf(got))
	}
}

func toAny(m map[string]bool) map[string]any {
	out := map[string]any{}
	for k := range m {
		out[k] = true
	}
	return out
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
