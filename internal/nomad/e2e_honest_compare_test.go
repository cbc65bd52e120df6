//go:build e2e

package nomad_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// Comparing what both sides answered, label by label.

// honestDynamic are keys whose values differ between any two clusters
// running the same scenario, beyond the IDs, times and indexes that
// volatile already leaves out: they are compared by shape only. The fake's
// GPU node mirrors the real one (name, pool, CPU, memory, GPUs), so little
// else needs to be.
var honestDynamic = map[string]bool{
	// Measurements of a live machine and its tasks (client stats,
	// allocation stats), which change from one reading to the next.
	"CPU": true, "Memory": true, "DiskStats": true, "AllocDirStats": true, "Uptime": true, "CPUTicksConsumed": true,
	"ResourceUsage": true, "Stats": true,
	// Fingerprints of the machine (kernel, addresses, the drivers found
	// and their health), content hashes, and the agent's own
	// configuration and runtime.
	"Attributes": true, "Drivers": true, "Address": true, "Hash": true, "SecretID": true, "CgroupParent": true,
	"config": true, "member": true, "runtime": true, "node_id": true, "known_servers": true, "heartbeat_ttl": true,
	"last_heartbeat": true, "num_allocations": true,
}

// honestFree are maps whose keys are data (a task's name, a device
// instance ID, a class hash): their values are compared under the keys
// both sides have.
var honestFree = map[string]bool{"ClassEligibility": true, "InstanceStats": true, "TaskStates": true, "Tasks": true,
	"Summary": true, "DesiredTGUpdates": true, "FailedTGAllocs": true, "QueuedAllocations": true, "Meta": true,
	"Items": true, "TaskLifecycles": true, "NodesAvailable": true, "ConstraintFiltered": true, "DimensionExhausted": true,
	"stats": true, "client": true, "Attributes": true, "Drivers": true}

// honestOpts: the device instances an allocation got depend on which were
// free on the real node; how many it got does not.
var honestOpts = compareOpts{dynamic: honestDynamic, free: honestFree, counted: map[string]bool{"DeviceIDs": true}}

// honestDump writes every recorded answer of both sides into a directory,
// to read when the comparison fails.
var honestDump = flag.String("honest.dump", "", "TestE2EFakeAnswersLikeRealNomad: write the answers of Nomad and of the fake to this directory")

func dumpSides(t *testing.T, sides ...*side) {
	for _, s := range sides {
		for i, x := range s.rec.entries {
			name := fmt.Sprintf("%03d-%s-%s.txt", i, strings.ReplaceAll(x.label, " ", "-"), s.name)
			body := fmt.Sprintf("%s %s\n%d\n\n%s", x.method, x.path, x.status, x.bytes())
			if err := os.WriteFile(filepath.Join(*honestDump, name), []byte(body), 0o644); err != nil {
				t.Errorf("dump: %v", err)
				return
			}
		}
	}
}

func compareSides(t *testing.T, live, fake *side, ids honestIDs) {
	if *honestDump != "" {
		dumpSides(t, live, fake)
	}
	reads := caravanReads(t)
	seen := map[string]bool{}
	for _, label := range live.rec.labels {
		if label == "" || seen[label] {
			continue
		}
		seen[label] = true
		compareErrors(t, label, live.errs[label], fake.errs[label])
		lx, fx := live.rec.of(label), fake.rec.of(label)
		if len(lx) != len(fx) {
			t.Errorf("%s: Nomad was asked %v, the fake %v", label, keys(lx), keys(fx))
			continue
		}
		for i := range lx {
			compareExchange(t, label, lx[i], fx[i], ids, live, fake, reads)
		}
	}
}

func keys(xs []*exchange) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%s (%d)", requestKey(x), x.status)
	}
	return out
}

// compareErrors: the error caravan made of each side's answer must be of
// the same kind and read the same, addresses, IDs and numbers aside.
func compareErrors(t *testing.T, label string, live, fake error) {
	switch {
	case live == nil && fake == nil:
		return
	case live == nil || fake == nil:
		t.Errorf("%s: caravan's error from Nomad: %v; from the fake: %v", label, live, fake)
		return
	}
	var le, fe *nomad.Error
	if errors.As(live, &le) && errors.As(fake, &fe) && le.Kind != fe.Kind {
		t.Errorf("%s: caravan's error from Nomad is of kind %v, from the fake %v\n  Nomad: %v\n  fake:  %v", label, le.Kind, fe.Kind, live, fake)
	}
	if normalize(live.Error()) != normalize(fake.Error()) {
		t.Errorf("%s: caravan says different things\n  Nomad: %v\n  fake:  %v", label, live, fake)
	}
}

func compareExchange(t *testing.T, label string, lx, fx *exchange, ids honestIDs, live, fake *side, reads map[string]bool) {
	t.Helper()
	where := label + " (" + requestKey(lx) + ")"
	if requestKey(lx) != requestKey(fx) {
		t.Errorf("%s: caravan asked the fake %s", where, requestKey(fx))
		return
	}
	lb, fb := lx.bytes(), fx.bytes()
	if lx.status != fx.status {
		t.Errorf("%s: Nomad answered %d %q, the fake %d %q", where, lx.status, short(string(lb)), fx.status, short(string(fb)))
		return
	}
	if lx.nextToken != fx.nextToken {
		t.Errorf("%s: X-Nomad-NextToken set by Nomad: %v, by the fake: %v", where, lx.nextToken, fx.nextToken)
	}
	var d diffs
	switch {
	case label == "status leader": // the leader's address
		var lv, fv any
		json.Unmarshal(lb, &lv)
		json.Unmarshal(fb, &fv)
		shapeWith(&d, "$", lv, fv, nil)
	case label == "event stream":
		compareEvents(t, where, lb, fb, reads)
		return
	case strings.HasPrefix(label, "logs") && lx.status == 200 && strings.HasSuffix(label, "plain"):
		if !bytes.Equal(lb, fb) {
			t.Errorf("%s: Nomad sent %q, the fake %q", where, lb, fb)
		}
		return
	case strings.HasPrefix(label, "logs") && lx.status == 200:
		lf, ld := frames(t, lb)
		ff, fd := frames(t, fb)
		if !bytes.Equal(ld, fd) {
			t.Errorf("%s: Nomad's frames carry %q, the fake's %q", where, ld, fd)
		}
		compareWith(&d, "$", lf, ff, honestOpts)
	case len(bytes.TrimSpace(lb)) == 0 || len(bytes.TrimSpace(fb)) == 0:
		if len(bytes.TrimSpace(lb)) != len(bytes.TrimSpace(fb)) {
			t.Errorf("%s: Nomad answered %q, the fake %q", where, short(string(lb)), short(string(fb)))
		}
		return
	default:
		var lv, fv any
		if json.Unmarshal(lb, &lv) != nil || json.Unmarshal(fb, &fv) != nil {
			// An error's text: where caravan made the same error of both
			// (compareErrors), the words are only worth a log line.
			if normalize(string(lb)) != normalize(string(fb)) {
				t.Logf("%s: Nomad answered %q, the fake %q", where, lb, fb)
			}
			return
		}
		keep := keepFor(label, ids, live.nodeName)
		lv, fv = sinceStart(lv, live.start), sinceStart(fv, fake.start)
		compareWith(&d, "$", tidy(lv, keep), tidy(fv, keep), honestOpts)
	}
	report(t, where, d, reads)
}

func report(t *testing.T, where string, d diffs, reads map[string]bool) {
	t.Helper()
	fail, logged := verdict(d, reads)
	for _, x := range fail {
		t.Errorf("%s: %s", where, x)
	}
	seen := map[string]bool{}
	for _, x := range logged {
		if k := x.Kind.String() + " " + x.Key(); !seen[k] {
			seen[k] = true
			t.Logf("%s: %s (caravan does not read %s)", where, x, x.Key())
		}
	}
}

func (k diffKind) String() string {
	return [...]string{"missing", "extra", "type", "value", "length"}[k]
}

// frames decodes a framed log stream: the frames that carry data, and the
// data they carry. Heartbeats ({}) are dropped.
func frames(t *testing.T, b []byte) ([]any, []byte) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []any
	var data []byte
	for {
		var f map[string]any
		if err := dec.Decode(&f); err == io.EOF {
			return out, data
		} else if err != nil {
			t.Errorf("log frames %q: %v", short(string(b)), err)
			return out, data
		}
		if len(f) == 0 {
			continue
		}
		out = append(out, f)
		var typed struct{ Data []byte }
		raw, _ := json.Marshal(f)
		json.Unmarshal(raw, &typed)
		data = append(data, typed.Data...)
	}
}

// keepFor says which elements of a list answer belong to the scenario: a
// shared cluster also lists other namespaces, pools, nodes and their
// allocations. node is the name of the GPU node the runs ran on.
func keepFor(label string, ids honestIDs, node string) func(map[string]any) bool {
	switch label {
	case "namespace list":
		return func(m map[string]any) bool { return m["Name"] == ids.ns || m["Name"] == "default" }
	case "node pools":
		return func(m map[string]any) bool {
			return m["Name"] == ids.pool || m["Name"] == "default" || m["Name"] == "all"
		}
	case "nodes":
		return func(m map[string]any) bool { return m["Name"] == node }
	case "node allocations":
		return func(m map[string]any) bool { return m["Namespace"] == ids.ns }
	}
	return nil
}

// sinceStart drops from a node the events of its life before the
// scenario: a real node carries its history (earlier drains), the fake's
// is new.
func sinceStart(v any, start uint64) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	evs, ok := m["Events"].([]any)
	if !ok || m["NodePool"] == nil {
		return v
	}
	out := []any{}
	for _, e := range evs {
		if em, _ := e.(map[string]any); em != nil {
			if idx, _ := em["CreateIndex"].(float64); uint64(idx) > start {
				out = append(out, e)
			}
		}
	}
	c := maps.Clone(m)
	c["Events"] = out
	return c
}

// tidy keeps the scenario's elements of a list answer and orders them by
// creation (lists come in no order caravan relies on).
func tidy(v any, keep func(map[string]any) bool) any {
	l, ok := v.([]any)
	if !ok {
		return v
	}
	out := []any{}
	for _, x := range l {
		if m, ok := x.(map[string]any); !ok || keep == nil || keep(m) {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return sortKey(out[i]) < sortKey(out[j]) })
	return out
}

func sortKey(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	idx, _ := m["CreateIndex"].(float64)
	return fmt.Sprintf("%020.0f %v %v %v %v", idx, m["Name"], m["Path"], m["TriggeredBy"], m["Status"])
}

// compareEvents compares the event streams' shapes: for each (topic,
// type) both sent, every event of the fake's must have the shape of one of
// Nomad's. A type only one side sent within the scenario is logged.
func compareEvents(t *testing.T, where string, live, fake []byte, reads map[string]bool) {
	lv, fv := eventsByType(t, live), eventsByType(t, fake)
	for typ, fes := range fv {
		les, ok := lv[typ]
		if !ok {
			t.Logf("%s: the fake sent %s, Nomad did not within the scenario", where, typ)
			continue
		}
		for _, fe := range fes {
			var best diffs
			var bestFail []diff
			for i, le := range les {
				var d diffs
				eventShape(&d, "$", le, fe)
				fail, _ := verdict(d, reads)
				if i == 0 || len(fail) < len(bestFail) || (len(fail) == len(bestFail) && len(d) < len(best)) {
					best, bestFail = d, fail
				}
			}
			report(t, where+" "+typ, best, reads)
		}
	}
	for typ := range lv {
		if _, ok := fv[typ]; !ok {
			t.Logf("%s: Nomad sent %s, the fake did not", where, typ)
		}
	}
}

// eventShape compares two events' shapes: the same keys, the same kinds
// of values, lists by their first elements, null matching anything. An
// event carries a job, an evaluation, an allocation or a node at some
// moment; the moments of the two sides differ, their shapes must not.
func eventShape(d *diffs, path string, want, got any) {
	if want == nil || got == nil {
		return
	}
	if kind(want) != kind(got) {
		d.add(path, diffType, "want %s, got %s", kind(want), kind(got))
		return
	}
	switch w := want.(type) {
	case []any:
		if g := got.([]any); len(w) > 0 && len(g) > 0 {
			eventShape(d, path+"[0]", w[0], g[0])
		}
	case map[string]any:
		g := got.(map[string]any)
		if honestDynamic[lastKey(path)] {
			return // values of a live machine
		}
		free := honestFree[lastKey(path)] // data for keys: those both have
		for _, k := range unionKeys(w, g) {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case free && (!inW || !inG):
			case !inG:
				d.add(childPath(path, k), diffMissing, "missing in fake")
			case !inW:
				d.add(childPath(path, k), diffExtra, "fake has a key Nomad lacks")
			default:
				eventShape(d, childPath(path, k), wv, gv)
			}
		}
	}
}

func eventsByType(t *testing.T, b []byte) map[string][]any {
	out := map[string][]any{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var line struct{ Events []map[string]any }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			// The stream was cut mid-line when the scenario ended.
			continue
		}
		for _, e := range line.Events {
			typ := fmt.Sprintf("%v/%v", e["Topic"], e["Type"])
			out[typ] = append(out[typ], e)
		}
	}
	return out
}

// requireEndpoints fails when the scenario no longer reaches an endpoint
// caravan uses.
func requireEndpoints(t *testing.T, rec *recorder) {
	var asked []string
	for _, x := range rec.entries {
		asked = append(asked, requestKey(x))
	}
	all := strings.Join(asked, "\n")
	for _, want := range []string{
		"GET /v1/jobs ", "PUT /v1/jobs ", "GET /v1/job/", "/summary", "/allocations all=true", "/evaluations",
		"/plan", "DELETE /v1/job/", "purge=true", "GET /v1/allocations", "GET /v1/allocation/", "GET /v1/evaluations",
		"filter=Status", "GET /v1/nodes", "GET /v1/node/<id> ", "GET /v1/node/<id>/allocations", "/drain", "/eligibility",
		"GET /v1/node/pools", "GET /v1/node/pool/", "PUT /v1/node/pools", "DELETE /v1/node/pool/",
		"GET /v1/namespace/", "GET /v1/namespaces", "PUT /v1/namespace", "DELETE /v1/namespace/",
		"GET /v1/vars", "next_token=", "per_page=", "GET /v1/var/", "PUT /v1/var/", "cas=", "DELETE /v1/var/",
		"GET /v1/event/stream", "GET /v1/client/stats", "GET /v1/client/allocation/", "GET /v1/client/fs/logs/",
		"plain=true", "plain=false", "GET /v1/acl/token/self", "GET /v1/status/leader",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the scenario never asked Nomad %q: an endpoint caravan uses went uncompared", want)
		}
	}
}
