package nomadtest

import (
	"bufio"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

func TestConform(t *testing.T) {
	tmpl := map[string]any{
		"A": 1.0, "Obj": map[string]any{"X": "dx", "Y": 2.0}, "List": []any{map[string]any{"K": "dk", "V": 0.0}},
		"Meta": map[string]any{"tmpl": "value"}, "Datacenters": []any{"*"}, "Constraints": []any{map[string]any{"L": "x"}},
	}
	actual := map[string]any{
		"A": 5.0, "Extra": true, "Obj": nil, "List": []any{map[string]any{"K": "k1"}},
		"Meta": map[string]any{"mine": "v"},
	}
	want := map[string]any{
		"A": 5.0, "Obj": map[string]any{"X": "dx", "Y": 2.0}, "List": []any{map[string]any{"K": "k1", "V": 0.0}},
		"Meta": map[string]any{"mine": "v"}, "Datacenters": []any{"*"}, "Constraints": nil,
	}
	if got := conform(tmpl, actual); !reflect.DeepEqual(got, want) {
		t.Fatalf("conform:\n got %v\nwant %v", got, want)
	}
}

func get(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return resp.StatusCode, b.String()
}

func TestFaults(t *testing.T) {
	s := New(t)
	s.FailNext(2, "/v1/jobs", 500, "rpc error: no leader")
	for i := 0; i < 2; i++ {
		if code, body := get(t, s, "/v1/jobs"); code != 500 || body != "rpc error: no leader" {
			t.Fatalf("call %d: %d %q", i, code, body)
		}
	}
	if code, _ := get(t, s, "/v1/jobs"); code != 200 {
		t.Fatalf("third call: %d", code)
	}
	s.Deny("/v1/node")
	if code, body := get(t, s, "/v1/nodes"); code != 403 || body != "Permission denied" {
		t.Fatalf("deny: %d %q", code, body)
	}
	s.ClearFaults()
	s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/node/pools" {
			http.Error(w, "teapot", http.StatusTeapot)
			return true
		}
		return false
	})
	if code, _ := get(t, s, "/v1/node/pools"); code != http.StatusTeapot {
		t.Fatalf("intercept: %d", code)
	}
	s.ClearFaults()
	s.Delay("/v1/jobs", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/v1/jobs", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("a delayed answer arrived before the client gave up")
	}
	if n := s.Requests("GET /v1/jobs"); n != 4 {
		t.Fatalf("requests counted: %d", n)
	}
}

func TestEnforceIndexAndStop(t *testing.T) {
	s := New(t)
	c := s.APIClient(t)
	s.AddNode(NodeSpec{Pool: "gpu", GPUs: 1})
	j := BatchJobs(1, "gpu", 1)[0]
	resp, _, err := c.Jobs().EnforceRegister(j, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().EnforceRegister(j, 0, nil); err == nil || !strings.Contains(err.Error(), "Enforcing job modify index 0: job already exists") {
		t.Fatalf("second enforce 0: %v", err)
	}
	if _, _, err := c.Jobs().EnforceRegister(j, resp.JobModifyIndex+100, nil); err == nil || !strings.Contains(err.Error(), "conflicting job modify index") {
		t.Fatalf("stale index: %v", err)
	}
	if _, _, err := c.Jobs().EnforceRegister(j, resp.JobModifyIndex, nil); err != nil {
		t.Fatalf("matching index: %v", err)
	}
	s.RunAll()
	if _, _, err := c.Jobs().Deregister(*j.ID, false, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Jobs().Info(*j.ID, nil)
	if err != nil || !*got.Stop || *got.Status != "dead" {
		t.Fatalf("stopped job: %v %v %v", *got.Stop, *got.Status, err)
	}
	a := s.Allocs("default", *j.ID)
	if len(a) != 1 || a[0].DesiredStatus != "stop" || a[0].ClientStatus != "complete" {
		t.Fatalf("alloc after stop: %+v", a)
	}
	// The GPU is free again: a new job is placed at once.
	k := BatchJobs(2, "gpu", 1)[1]
	c.Jobs().Register(k, nil)
	if len(s.Allocs("default", *k.ID)) != 1 {
		t.Fatal("GPU not freed by the stop")
	}
	if _, _, err := c.Jobs().Deregister(*j.ID, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Info(*j.ID, nil); err == nil {
		t.Fatal("purged job still readable")
	}
}

func TestExhaustionAndPlan(t *testing.T) {
	s := New(t)
	c := s.APIClient(t)
	s.AddNode(NodeSpec{Pool: "gpu", GPUs: 8, CPU: 1000})
	jobs := BatchJobs(11, "gpu", 1)
	for _, j := range jobs {
		*j.TaskGroups[0].Tasks[0].Resources.CPU = 100
		c.Jobs().Register(j, nil)
	}
	evals, _, _ := c.Evaluations().List(nil)
	var dims map[string]int
	for _, e := range evals {
		if e.Status == "blocked" && e.JobID == *jobs[10].ID {
			dims = e.FailedTGAllocs["run"].DimensionExhausted
		}
	}
	if dims[reasonDevicesBusy] != 1 {
		t.Fatalf("11th run should wait for busy devices: %v", dims)
	}
	// Plan a new job: the plan says it would not be placed, and changes nothing.
	before := s.Index()
	p := BatchJobs(20, "gpu", 1)[19]
	resp, _, err := c.Jobs().Plan(p, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.FailedTGAllocs["run"] == nil || resp.Diff.Type != "Added" || resp.Annotations.DesiredTGUpdates["run"].Place != 1 {
		t.Fatalf("plan: %+v %+v", resp.FailedTGAllocs, resp.Diff)
	}
	if s.Index() != before || len(s.JobIDs("default")) != 11 {
		t.Fatal("plan changed state")
	}
}

func TestEventStreamHeartbeatsAndNamespaces(t *testing.T) {
	s := New(t)
	s.HeartbeatInterval = 10 * time.Millisecond
	s.AddNamespace("ml")
	c := s.APIClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(mustReq(t, ctx, s.URL()+"/v1/event/stream?topic=Job&namespace=ml"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	heartbeats := 0
	for heartbeats < 3 && sc.Scan() {
		if sc.Text() == "{}" {
			heartbeats++
		}
	}
	j := BatchJobs(1, "default", 0)[0]
	c.Jobs().Register(j, nil) // default namespace: not for this subscriber
	ns := "ml"
	k := BatchJobs(2, "default", 0)[1]
	k.Namespace = &ns
	c.Jobs().Register(k, nil)
	for sc.Scan() {
		line := sc.Text()
		if line == "{}" {
			continue
		}
		if strings.Contains(line, `"Key":"`+*j.ID+`"`) {
			t.Fatal("event of another namespace delivered")
		}
		if strings.Contains(line, `"Key":"`+*k.ID+`"`) {
			return
		}
	}
	t.Fatal("stream ended without the ml job's event")
}

func mustReq(t *testing.T, ctx context.Context, url string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

var _ = api.TopicJob

func TestDeviceConstraints(t *testing.T) {
	s := New(t)
	c := s.APIClient(t)
	s.AddNode(NodeSpec{Name: "small", Pool: "gpu", GPUs: 8, GPUName: "A10", GPUMemoryMiB: 24576})
	big := s.AddNode(NodeSpec{Name: "big", Pool: "gpu", GPUs: 8, GPUName: "H100-SIM", GPUMemoryMiB: 81559})
	j := BatchJobs(1, "gpu", 1)[0]
	j.TaskGroups[0].Tasks[0].Resources.Devices[0].Constraints = []*api.Constraint{
		{LTarget: "${device.attr.memory}", Operand: ">=", RTarget: "40 GiB"},
		{LTarget: "${device.model}", Operand: "regexp", RTarget: "H100"},
	}
	if _, _, err := c.Jobs().Register(j, nil); err != nil {
		t.Fatal(err)
	}
	if a := s.Allocs("default", *j.ID); len(a) != 1 || a[0].NodeID != big {
		t.Fatalf("placed on %+v, want the H100 node", a)
	}
	k := BatchJobs(2, "gpu", 1)[1]
	k.TaskGroups[0].Tasks[0].Resources.Devices[0].Constraints = []*api.Constraint{{LTarget: "${device.attr.memory}", Operand: ">=", RTarget: "100 GiB"}}
	c.Jobs().Register(k, nil)
	evals, _, _ := c.Evaluations().List(nil)
	for _, e := range evals {
		if e.JobID == *k.ID && e.Status == "blocked" {
			if e.FailedTGAllocs["run"].ConstraintFiltered[reasonMissingDevices] != 2 {
				t.Fatalf("filtered %v", e.FailedTGAllocs["run"].ConstraintFiltered)
			}
			return
		}
	}
	t.Fatal("a run no GPU can hold was not blocked")
}

func TestParseMiB(t *testing.T) {
	for in, want := range map[string]float64{"40 GiB": 40960, "81559 MiB": 81559, "1TiB": 1 << 20, "512": 512} {
		if got, ok := parseMiB(in); !ok || got != want {
			t.Errorf("%q = %v %v", in, got, ok)
		}
	}
	if _, ok := parseMiB("lots"); ok {
		t.Error("garbage parsed")
	}
}

// TestCloseEndsStreams: Close returns while an event stream, a followed
// log and a delayed request are in flight (httptest.Server.Close waits for
// handlers).
func TestCloseEndsStreams(t *testing.T) {
	s := New(t)
	s.AddNode(NodeSpec{})
	c := s.APIClient(t)
	c.Jobs().Register(BatchJobs(1, "default", 0)[0], nil)
	id := s.Allocs("default", "bench-000000")[0].ID
	s.StartAlloc(id)
	s.Delay("/v1/jobs", time.Hour)
	for _, p := range []string{"/v1/event/stream", "/v1/client/fs/logs/" + id + "?task=train&type=stdout&follow=true", "/v1/jobs"} {
		go func() {
			resp, err := http.Get(s.URL() + p)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the requests arrive; Close must not wait for them
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on in-flight streams")
	}
}
