package nomadtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Answers the fake gives as Nomad 2.0.5 gave them on a real cluster (with
// ACLs off), where the recorded fixtures have no example; make e2e checks
// them against the real thing (TestE2EFakeAnswersLikeRealNomad).

func do(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const answerJob = `{"Job":{"ID":"j","Name":"j","Type":"batch","NodePool":"gpu","Namespace":"NS","Datacenters":["*"],
"TaskGroups":[{"Name":"run","Count":1,"Tasks":[{"Name":"train","Driver":"raw_exec","Config":{"command":"/bin/true"},
"Resources":{"CPU":100,"MemoryMB":64,"Devices":[{"Name":"nvidia/gpu","Count":GPUS}]}}]}]}}`

func answerJobIn(ns, gpus string) string {
	return strings.NewReplacer("NS", ns, "GPUS", gpus).Replace(answerJob)
}

func TestAnswersLikeNomad(t *testing.T) {
	s := New(t)
	node := s.AddNode(NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	s.AddNodePool("empty", "")
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		want                     string // the body, or a part of it
	}{
		{"stop a job that is not there", "DELETE", "/v1/job/nothere", "", 200, `"EvalID":""`},
		{"purge a job that is not there", "DELETE", "/v1/job/nothere?purge=true", "", 200, `"EvalID":""`},
		{"job in an unknown namespace", "PUT", "/v1/jobs?namespace=nope", answerJobIn("nope", "1"), 500,
			"1 error occurred:\n\t* job \"j\" is in nonexistent namespace \"nope\"\n\n"},
		{"plan in an unknown namespace", "PUT", "/v1/job/j/plan?namespace=nope", answerJobIn("nope", "1"), 500,
			"1 error occurred:\n\t* job \"j\" is in nonexistent namespace \"nope\"\n\n"},
		{"unknown namespace", "GET", "/v1/namespace/nope", "", 404, "Namespace not found"},
		{"token with ACLs off", "GET", "/v1/acl/token/self", "", 200, `"AccessorID":"acls-disabled"`},
		{"variable in an unknown namespace", "PUT", "/v1/var/a/b?namespace=nope", `{"Items":{"k":"v"}}`, 200, `"Namespace":"nope"`},
		{"eligibility of an unknown node", "PUT", "/v1/node/00000000-0000-4000-8000-000000000000/eligibility", `{"Eligibility":"eligible"}`, 500, "node not found"},
		{"drain of an unknown node", "PUT", "/v1/node/00000000-0000-4000-8000-000000000000/drain", `{"MarkEligible":true}`, 500, "node not found"},
		{"eligibility unchanged", "PUT", "/v1/node/" + node + "/eligibility", `{"Eligibility":"eligible"}`, 200, `"Index":0,"NodeModifyIndex":0`},
		{"logs of an unknown allocation", "GET", "/v1/client/fs/logs/00000000-0000-4000-8000-000000000000?task=t&type=stdout", "", 404,
			`Unknown allocation "00000000-0000-4000-8000-000000000000"`},
		{"delete a pool with nodes", "DELETE", "/v1/node/pool/gpu", "", 500, "1 error occurred:\n\t* node pool \"gpu\" has nodes in regions: [global]\n\n"},
		{"delete an empty pool", "DELETE", "/v1/node/pool/empty", "", 200, ""},
		{"delete a pool that is not there", "DELETE", "/v1/node/pool/empty", "", 500, "node pool empty not found"},
		{"a filter the fake does not model", "GET", "/v1/evaluations?filter=" + url.QueryEscape(`Status matches "b.*"`), "", 400, "Field =="},
		{"agent self", "GET", "/v1/agent/self", "", 200, `"node_id":"` + node + `"`},
	} {
		status, body := do(t, s, tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %s %s answered %d %q, want %d with %q", tt.name, tt.method, tt.path, status, body, tt.status, tt.want)
		}
	}
	if status, body := do(t, s, "PUT", "/v1/var/c?cas=0", `{"Items":{"k":"v"}}`); status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, body := do(t, s, "PUT", "/v1/var/c?cas=0", `{"Items":{"k":"w"}}`); status != 409 || !strings.Contains(body, `"Items":{"k":"v"}`) {
		t.Errorf("lost check-and-set: %d %s, want 409 with the variable's items", status, body)
	}
}

// decodeList is a JSON list answer's objects.
func decodeList(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	return out
}

func TestEvaluationsAsNomadWritesThem(t *testing.T) {
	s := New(t)
	s.AddNode(NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	do(t, s, "PUT", "/v1/jobs", answerJobIn("default", "3"))
	_, body := do(t, s, "GET", "/v1/evaluations?filter="+url.QueryEscape(`Status == "blocked"`), "")
	blocked := decodeList(t, body)
	if len(blocked) != 1 || blocked[0]["TriggeredBy"] != "queued-allocs" {
		t.Fatalf("blocked evaluations: %v", blocked)
	}
	_, body = do(t, s, "GET", "/v1/job/j/evaluations", "")
	for _, e := range decodeList(t, body) {
		// The placement that failed still counts as one to place.
		if e["TriggeredBy"] == "job-register" {
			u := e["PlanAnnotations"].(map[string]any)["DesiredTGUpdates"].(map[string]any)["run"].(map[string]any)
			if u["Place"] != 1.0 {
				t.Errorf("register evaluation: Place %v, want 1", u["Place"])
			}
		}
	}
	do(t, s, "DELETE", "/v1/job/j", "")
	_, body = do(t, s, "GET", "/v1/evaluations?filter="+url.QueryEscape(`TriggeredBy == "job-deregister"`), "")
	dereg := decodeList(t, body)
	if len(dereg) != 1 || dereg[0]["Type"] != "service" || dereg[0]["QueuedAllocations"] == nil {
		t.Errorf("stop's evaluation: %v, want type service with QueuedAllocations", dereg)
	}
}

func TestPlanOfACompletedRun(t *testing.T) {
	s := New(t)
	s.AddNode(NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	do(t, s, "PUT", "/v1/jobs", answerJobIn("default", "1"))
	s.CompleteAlloc(s.Allocs("default", "j")[0].ID)
	changed := strings.Replace(answerJobIn("default", "1"), `"Name":"j"`, `"Name":"j","Meta":{"lr":"0.1"}`, 1)
	_, body := do(t, s, "PUT", "/v1/job/j/plan", changed)
	var plan struct {
		Annotations struct{ DesiredTGUpdates map[string]map[string]int }
		Diff        struct {
			TaskGroups []struct{ Updates map[string]int }
		}
	}
	if err := json.Unmarshal([]byte(body), &plan); err != nil {
		t.Fatal(err)
	}
	// Nomad runs a completed batch group again, and ignores the ended
	// allocation; it does not update it in place or destructively.
	u := plan.Annotations.DesiredTGUpdates["run"]
	if u["Place"] != 1 || u["Ignore"] != 1 || u["DestructiveUpdate"] != 0 {
		t.Errorf("plan: %v", u)
	}
	if up := plan.Diff.TaskGroups[0].Updates; up["create"] != 1 || up["ignore"] != 1 {
		t.Errorf("diff updates: %v", up)
	}
}

func TestNodeEventsOfADrain(t *testing.T) {
	s := New(t)
	node := s.AddNode(NodeSpec{Name: "gpu-node-1", Pool: "gpu", GPUs: 2})
	do(t, s, "PUT", "/v1/node/"+node+"/drain", `{"DrainSpec":{"Deadline":3600000000000},"Meta":{"caravan":"test"}}`)
	_, body := do(t, s, "GET", "/v1/node/"+node, "")
	var n struct {
		Events []struct{ Subsystem, Message string }
	}
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatal(err)
	}
	// An idle node's drain completes at once, as on Nomad 2.0.5.
	var got []string
	for _, e := range n.Events {
		got = append(got, e.Subsystem+": "+e.Message)
	}
	want := []string{"Cluster: Node registered", "Drain: Node drain strategy set", "Drain: Node drain complete"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("node events %q, want %q", got, want)
	}
}
