//go:build e2e

package nomad_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/nomad/api"
)

// TestE2EFakeAnswersLikeRealNomad keeps the fake honest: it plays one
// scenario (e2e_honest_scenario_test.go) through caravan's Client against
// the live Nomad at NOMAD_ADDR and against the fake, records every answer
// through a proxy, and compares them label by label: the requests caravan
// made, the status codes, the bodies field by field (IDs, times and
// indexes aside), the errors caravan made of them, and the shapes of the
// event stream. A key or a type the fake invents fails the test, and so
// does a key it lacks, or a value that differs, where caravan reads that
// key (honesty_test.go says how that is known); the rest is logged.
//
// The scenario works in a namespace and a node pool of its own, which it
// removes with everything in them. It leaves nodes as they are, unless
// CARAVAN_E2E_NODES=1 lets it drain the GPU node and undrain it. With
// RIG_GPU_CLIENT_ADDR (the rig's GPU client agent) it also reads what the
// node agent reads from its local client agent. A cluster with ACLs off
// (the rig) refuses no token, so 403 answers are not compared: the fake's
// (Deny, RequireToken in faults.go) stay unchecked against Nomad.
func TestE2EFakeAnswersLikeRealNomad(t *testing.T) {
	e2eClient(t) // skips without NOMAD_ADDR
	ids := newHonestIDs()
	getenv := func(k string) string {
		if k == "NOMAD_ADDR" || k == "NOMAD_NAMESPACE" {
			return ""
		}
		return os.Getenv(k)
	}
	at := func(addr string) *nomad.Client {
		c, err := nomad.New(nomad.Config{Address: addr, Namespace: ids.ns, Timeout: 30 * time.Second, Getenv: getenv})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	live := &side{name: "Nomad", t: t, rec: &recorder{}, errs: map[string]error{}, ns: ids.ns,
		direct: at(os.Getenv("NOMAD_ADDR")), drainNodes: os.Getenv("CARAVAN_E2E_NODES") == "1"}
	t.Cleanup(func() { cleanupHonest(t, live.direct, ids) })
	transport := nomadTransport(t)
	live.cl = at(recordingProxy(t, os.Getenv("NOMAD_ADDR"), transport, live.rec))
	if a := os.Getenv("RIG_GPU_CLIENT_ADDR"); a != "" {
		live.agent = at(recordingProxy(t, a, transport, live.rec))
	} else {
		t.Log("RIG_GPU_CLIENT_ADDR is unset: the client agent's own answers (agent self, local client stats) are not compared")
	}
	live.settle = live.settleReal
	live.play(ids)

	srv := nomadtest.New(t)
	mirrorNode(t, srv, live)
	fake := &side{name: "fake", t: t, rec: &recorder{}, errs: map[string]error{}, ns: ids.ns,
		direct: at(srv.URL()), drainNodes: live.drainNodes}
	fake.cl = at(recordingProxy(t, srv.URL(), nil, fake.rec))
	if live.agent != nil {
		fake.agent = at(recordingProxy(t, srv.URL(), nil, fake.rec))
	}
	fake.settle = func(id, want string) { settleFake(srv, ids.ns, id, want) }
	fake.play(ids)

	compareSides(t, live, fake, ids)
	requireEndpoints(t, live.rec)
}

// side is one of the two Nomads the scenario plays on.
type side struct {
	name       string
	t          *testing.T
	ns         string
	rec        *recorder
	cl         *nomad.Client // through the recording proxy, in ns
	agent      *nomad.Client // the GPU client agent through the proxy; nil without one
	direct     *nomad.Client // not recorded: for waiting and setting up
	settle     func(id, want string)
	drainNodes bool
	errs       map[string]error
	node       string // the GPU node the completed run ran on
	nodeName   string
	start      uint64 // the cluster's index when the scenario began
	okAlloc    *api.AllocationListStub
}

// call runs one labelled step and keeps its error for comparison.
func (s *side) call(label string, f func() error) {
	s.rec.step(label)
	s.errs[label] = f()
	s.rec.step("")
}

func newHonestIDs() honestIDs {
	var b [4]byte
	rand.Read(b[:])
	suf := hex.EncodeToString(b[:])
	px := "caravan/e2e/" + suf + "/"
	return honestIDs{
		ns: "caravan-e2e-honest-" + suf, pool: "caravan-e2e-honest-" + suf,
		ok: "caravan-e2e-ok-" + suf, hold: "caravan-e2e-hold-" + suf, big: "caravan-e2e-big-" + suf,
		missing: "caravan-e2e-missing-" + suf, noPool: "caravan-e2e-nopool-" + suf,
		varA: px + "a", varB: px + "b", varPx: px,
		rec: record.Run{RunID: "caravan-e2e-rec-" + suf, Experiment: "e2e", SubmittedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
}

// nomadTransport is how the proxy reaches the live Nomad: the TLS settings
// of the NOMAD_* variables, as the nomad CLI reads them.
func nomadTransport(t *testing.T) http.RoundTripper {
	hc := cleanhttp.DefaultPooledClient()
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if err := api.ConfigureTLS(hc, api.DefaultConfig().TLSConfig); err != nil {
		t.Fatalf("TLS settings from NOMAD_CACERT/NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY: %v", err)
	}
	return hc.Transport
}

// mirrorNode gives the fake the GPU node the live run ran on: its name,
// pool, datacenter, CPU, memory and GPUs.
func mirrorNode(t *testing.T, srv *nomadtest.Server, live *side) {
	n, err := live.direct.Node(context.Background(), live.node)
	if err != nil {
		t.Fatal(err)
	}
	live.nodeName = n.Name
	spec := nomadtest.NodeSpec{Name: n.Name, Pool: n.NodePool, Datacenter: n.Datacenter}
	if r := n.NodeResources; r != nil {
		spec.CPU, spec.MemoryMB = int(r.Cpu.CpuShares), r.Memory.MemoryMB
		for _, d := range r.Devices {
			if d.Vendor == "nvidia" && d.Type == "gpu" {
				spec.GPUs, spec.GPUName = len(d.Instances), d.Name
				if m := d.Attributes["memory"]; m != nil && m.IntVal != nil {
					spec.GPUMemoryMiB = *m.IntVal
				}
			}
		}
	}
	srv.AddNode(spec)
}

// settleReal waits until the live cluster has done what the fake does at
// once: a run placed and ended, or running, or queued with its blocked
// evaluation, or stopped with its allocations ended; a node drained.
func (s *side) settleReal(id, want string) {
	t, ctx := s.t, context.Background()
	if want == "drained" {
		s.waitFor(id, func() bool {
			n, err := s.direct.Node(ctx, id)
			return err == nil && n.DrainStrategy == nil
		})
		return
	}
	state := map[string]record.State{"complete": record.StateComplete, "running": record.StateRunning,
		"queued": record.StateQueued, "stopped": record.StateStopped}[want]
	waitState(t, s.direct, id, state)
	s.waitFor(id, func() bool {
		evs, err := s.direct.JobEvaluations(ctx, "", id)
		if err != nil {
			return false
		}
		blocked := false
		for _, e := range evs {
			if e.Status == "pending" {
				return false
			}
			blocked = blocked || e.Status == "blocked"
		}
		as, err := s.direct.JobAllocations(ctx, "", id)
		if err != nil {
			return false
		}
		for _, a := range as {
			ts := a.TaskStates["train"]
			switch {
			case want == "running" && (ts == nil || ts.State != "running"):
				return false
			case want == "stopped" && a.ClientStatus != "complete" && a.ClientStatus != "failed":
				return false
			}
		}
		return want != "queued" || blocked
	})
}

func (s *side) waitFor(what string, ok func() bool) {
	deadline := e2eDeadline(s.t, e2eWait)
	for !ok() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %s did not settle within %s", s.name, what, e2eWait)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// settleFake moves the fake's allocation as the live client moved the
// live one: the scripts of e2eJob print "starting" and
// "caravan-e2e-stderr".
func settleFake(srv *nomadtest.Server, ns, id, want string) {
	if want != "complete" && want != "running" {
		return
	}
	a := srv.Allocs(ns, id)[0]
	srv.StartAlloc(a.ID)
	srv.WriteLog(a.ID, "train", false, "starting\n")
	srv.WriteLog(a.ID, "train", true, "caravan-e2e-stderr\n")
	if want == "complete" {
		srv.CompleteAlloc(a.ID)
	}
}

// cleanupHonest removes from the live cluster whatever the scenario left
// when it stopped early: jobs, variables, the namespace, the node pool.
func cleanupHonest(t *testing.T, c *nomad.Client, ids honestIDs) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{ids.ok, ids.hold, ids.big, ids.missing} {
		if err := c.PurgeJob(ctx, "", id); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("cleanup: purge job %s: %v", id, err)
		}
	}
	for _, v := range []struct{ ns, path string }{{ids.ns, ids.varA}, {ids.ns, ids.varB}, {ids.ns + "-missing", ids.varA},
		{ids.ns, ids.rec.Ref(ids.ns).Path()}, {ids.ns, ids.rec.Ref(ids.ns).UsagePath()}} {
		if err := c.DeleteVariable(ctx, v.ns, v.path, nomad.NoCAS); err != nil && !errors.Is(err, nomad.ErrNotFound) {
			t.Errorf("cleanup: delete variable %s in %s: %v", v.path, v.ns, err)
		}
	}
	if _, err := c.API().Namespaces().Delete(ids.ns, wopts(ctx)); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Errorf("cleanup: delete namespace %s: %v", ids.ns, err)
	}
	if _, err := c.API().NodePools().Delete(ids.pool, wopts(ctx)); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Errorf("cleanup: delete node pool %s: %v", ids.pool, err)
	}
}
