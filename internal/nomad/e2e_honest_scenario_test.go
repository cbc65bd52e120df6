//go:build e2e

package nomad_test

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// The scenario that TestE2EFakeAnswersLikeRealNomad plays on both sides:
// every endpoint caravan uses, each call made by caravan's own Client (or,
// for what caravan does not wrap, its api client) and labelled, so that
// the answers of both sides can be compared label by label.

// honestIDs are the names both sides use, so that the answers are alike.
type honestIDs struct {
	ns, pool          string // created by the scenario, removed at its end
	ok, hold, big     string // a run that completes, one held running, one too big to place
	missing, noPool   string // a job and a node pool that do not exist
	varA, varB, varPx string
	rec               record.Run
}

// zeroID is a well-formed UUID that names nothing.
const zeroID = "00000000-0000-4000-8000-000000000000"

// withMeta is job with one meta value changed (a new version to plan or
// register).
func withMeta(j *api.Job, v string) *api.Job {
	c := *j
	c.Meta = map[string]string{}
	for k, x := range j.Meta {
		c.Meta[k] = x
	}
	c.Meta["caravan_e2e_honest"] = v
	return &c
}

func wopts(ctx context.Context) *api.WriteOptions { return (&api.WriteOptions{}).WithContext(ctx) }
func qopts(ctx context.Context) *api.QueryOptions { return (&api.QueryOptions{}).WithContext(ctx) }

func (s *side) play(ids honestIDs) {
	ctx := context.Background()
	s.call("namespace register", func() error {
		wm, err := s.cl.API().Namespaces().Register(&api.Namespace{Name: ids.ns, Description: "caravan e2e honesty"}, wopts(ctx))
		if err == nil {
			s.start = wm.LastIndex
		}
		return err
	})
	s.call("namespace info", func() error { return s.cl.CheckNamespace(ctx, ids.ns) })
	s.call("namespace missing", func() error { return s.cl.CheckNamespace(ctx, ids.ns+"-missing") })
	s.call("namespace list", func() error { _, _, err := s.cl.API().Namespaces().List(qopts(ctx)); return err })
	s.call("node pool ensure", func() error { return s.cl.EnsureNodePool(ctx, ids.pool, "caravan e2e honesty") })
	s.call("node pool info", func() error { _, _, err := s.cl.API().NodePools().Info(ids.pool, qopts(ctx)); return err })
	s.call("node pools", func() error { _, err := s.cl.NodePools(ctx); return err })

	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents() // also when a step fails the test: the proxy waits for open streams
	evDone := make(chan struct{})
	s.call("event stream", func() error {
		ch, err := s.cl.Events(evCtx, ids.ns, 0, api.TopicJob, api.TopicEvaluation, api.TopicAllocation, api.TopicNode)
		if err != nil {
			close(evDone)
			return err
		}
		go func() {
			defer close(evDone)
			for range ch {
			}
		}()
		return nil
	})
	s.call("acl token self", func() error { _, err := s.cl.Self(ctx); return err })
	s.call("status leader", func() error { _, err := s.cl.API().Status().Leader(); return err })

	s.jobs(ctx, ids)
	s.nodes(ctx)
	s.variables(ctx, ids)
	s.failures(ctx, ids)

	// Let the stream catch up with the last events before it is cut.
	time.Sleep(2 * time.Second)
	s.rec.cut("event stream")
	stopEvents()
	<-evDone

	for _, j := range []struct{ label, id string }{{"job purge complete", ids.ok}, {"job purge stopped", ids.hold}, {"job purge queued", ids.big}} {
		s.call(j.label, func() error { return s.cl.PurgeJob(ctx, "", j.id) })
	}
	s.call("namespace delete", func() error { _, err := s.cl.API().Namespaces().Delete(ids.ns, wopts(ctx)); return err })
	s.call("node pool delete", func() error { _, err := s.cl.API().NodePools().Delete(ids.pool, wopts(ctx)); return err })
}

func (s *side) jobs(ctx context.Context, ids honestIDs) {
	ok := e2eJob(ids.ok, 1, 0, "1")
	s.call("job create", func() error { _, err := s.cl.CreateJob(ctx, ok); return err })
	s.settle(ids.ok, "complete")
	s.call("job create again", func() error { _, err := s.cl.CreateJob(ctx, ok); return err })
	s.readJob("job complete", ids.ok)
	s.okAlloc = s.firstAlloc(ids.ok)
	a := s.okAlloc
	s.call("allocation complete", func() error { _, err := s.cl.Allocation(ctx, "", a.ID); return err })
	s.node = a.NodeID
	for _, l := range []struct {
		label         string
		stderr, plain bool
	}{{"logs stdout plain", false, true}, {"logs stdout framed", false, false}, {"logs stderr plain", true, true}, {"logs stderr framed", true, false}} {
		s.call(l.label, func() error {
			return s.cl.Logs(ctx, a.ID, nomad.LogOptions{Task: "train", Stderr: l.stderr, Plain: l.plain}, io.Discard)
		})
	}

	// The held run ends when Nomad interrupts it (exec: the signal reaches
	// sleep, not a shell that would wait for it), as the fake's runs do.
	hold := e2eJob(ids.hold, 1, 0, "600")
	hold.TaskGroups[0].Tasks[0].Config["args"] = []string{"-c", "echo starting; echo caravan-e2e-stderr >&2; exec /bin/sleep 600"}
	s.call("job create held", func() error { _, err := s.cl.CreateJob(ctx, hold); return err })
	s.settle(ids.hold, "running")
	s.readJob("job running", ids.hold)
	h := s.firstAlloc(ids.hold)
	s.call("allocation running", func() error { _, err := s.cl.Allocation(ctx, "", h.ID); return err })
	s.call("allocation stats", func() error { _, err := s.clientAgent().AllocationStats(ctx, h.ID); return err })
	s.call("job stop", func() error { _, err := s.cl.StopJob(ctx, "", ids.hold); return err })
	s.settle(ids.hold, "stopped")
	s.readJob("job stopped", ids.hold)
	s.call("allocation stopped", func() error { _, err := s.cl.Allocation(ctx, "", h.ID); return err })

	big := e2eJob(ids.big, 1000, 0, "0")
	s.call("job create queued", func() error { _, err := s.cl.CreateJob(ctx, big); return err })
	s.settle(ids.big, "queued")
	s.readJob("job queued", ids.big)
	s.call("evaluations blocked", func() error { _, err := s.cl.BlockedEvaluations(ctx, ""); return err })
	s.call("plan complete", func() error { _, err := s.cl.PlanJob(ctx, withMeta(ok, "plan")); return err })
	s.call("plan queued", func() error { _, err := s.cl.PlanJob(ctx, withMeta(big, "plan")); return err })

	var jmi uint64
	s.call("job register enforce read", func() error {
		j, err := s.cl.Job(ctx, "", ids.big)
		if err == nil && j.JobModifyIndex != nil {
			jmi = *j.JobModifyIndex
		}
		return err
	})
	s.call("job register enforce", func() error { _, err := s.cl.RegisterJob(ctx, withMeta(big, "v2"), true, jmi); return err })
	s.call("job register enforce stale", func() error { _, err := s.cl.RegisterJob(ctx, withMeta(big, "v3"), true, jmi); return err })
	s.settle(ids.big, "queued")
	s.readJob("job queued again", ids.big)
	s.call("job stop queued", func() error { _, err := s.cl.StopJob(ctx, "", ids.big); return err })
	s.settle(ids.big, "stopped")
	s.readJob("job queued then stopped", ids.big)
	s.call("evaluations", func() error { _, err := s.cl.Evaluations(ctx, ""); return err })
	s.call("allocations", func() error { _, err := s.cl.Allocations(ctx, ""); return err })
	s.call("jobs", func() error { _, err := s.cl.CaravanJobs(ctx, ""); return err })
}

// readJob reads a job as caravan's commands do: the job, its summary, its
// allocations and its evaluations.
func (s *side) readJob(label, id string) {
	ctx := context.Background()
	s.call(label, func() error { _, err := s.cl.Job(ctx, "", id); return err })
	s.call(label+" summary", func() error { _, err := s.cl.JobSummary(ctx, "", id); return err })
	s.call(label+" allocations", func() error { _, err := s.cl.JobAllocations(ctx, "", id); return err })
	s.call(label+" evaluations", func() error { _, err := s.cl.JobEvaluations(ctx, "", id); return err })
}

// firstAlloc is the job's only allocation, read outside the recording.
func (s *side) firstAlloc(id string) *api.AllocationListStub {
	s.t.Helper()
	as, err := s.direct.JobAllocations(context.Background(), "", id)
	if err != nil || len(as) == 0 {
		s.t.Fatalf("%s: allocations of %s: %v %v", s.name, id, len(as), err)
	}
	return as[0]
}

func (s *side) clientAgent() *nomad.Client {
	if s.agent != nil {
		return s.agent
	}
	return s.cl
}

func (s *side) nodes(ctx context.Context) {
	s.call("node", func() error { _, err := s.cl.Node(ctx, s.node); return err })
	s.call("nodes", func() error { _, err := s.cl.Nodes(ctx); return err })
	s.call("node allocations", func() error { _, err := s.cl.NodeAllocations(ctx, s.node); return err })
	s.call("client stats", func() error { _, err := s.cl.ClientStats(ctx, s.node); return err })
	if s.agent != nil {
		s.call("agent self", func() error { _, err := s.agent.API().Agent().Self(); return err })
		s.call("agent client stats", func() error { _, err := s.agent.ClientStats(ctx, ""); return err })
	}
	// Both leave the node as it is (eligible, not draining): safe on a
	// shared cluster.
	s.call("eligibility", func() error { return s.cl.SetEligibility(ctx, s.node, true) })
	s.call("drain cancel", func() error { return s.cl.CancelDrain(ctx, s.node, true) })
	if !s.drainNodes {
		return
	}
	s.call("drain", func() error {
		return s.cl.DrainNode(ctx, s.node, time.Hour, map[string]string{"caravan": "e2e honesty"})
	})
	s.settle(s.node, "drained")
	s.call("node drained", func() error { _, err := s.cl.Node(ctx, s.node); return err })
	s.call("drain cancel after drain", func() error { return s.cl.CancelDrain(ctx, s.node, true) })
	s.call("node undrained", func() error { _, err := s.cl.Node(ctx, s.node); return err })
}

func (s *side) variables(ctx context.Context, ids honestIDs) {
	items := map[string]string{"k": "v"}
	var idxB uint64
	s.call("var put", func() error { _, err := s.cl.PutVariable(ctx, "", ids.varA, items, nomad.NoCAS); return err })
	s.call("var create", func() error {
		v, err := s.cl.PutVariable(ctx, "", ids.varB, items, 0)
		if err == nil {
			idxB = v.ModifyIndex
		}
		return err
	})
	s.call("var create again", func() error { _, err := s.cl.PutVariable(ctx, "", ids.varB, items, 0); return err })
	s.call("var put stale", func() error { _, err := s.cl.PutVariable(ctx, "", ids.varB, items, int64(idxB)+1); return err })
	s.call("var read", func() error { _, err := s.cl.Variable(ctx, "", ids.varB); return err })
	s.call("var missing", func() error { _, err := s.cl.Variable(ctx, "", ids.varB+"-missing"); return err })
	s.call("var list", func() error { _, err := s.cl.Variables(ctx, "", ids.varPx); return err })
	s.call("var list paged", func() error {
		next := ""
		for {
			q := qopts(ctx)
			q.Prefix, q.PerPage, q.NextToken = ids.varPx, 1, next
			_, qm, err := s.cl.API().Variables().List(q)
			if err != nil || qm.NextToken == "" {
				return err
			}
			next = qm.NextToken
		}
	})
	rec := ids.rec
	s.call("record create", func() error { return s.cl.CreateRecord(ctx, "", &rec) })
	s.call("record create again", func() error { return s.cl.CreateRecord(ctx, "", &rec) })
	s.call("record read", func() error { _, _, err := s.cl.Record(ctx, rec.Ref(ids.ns)); return err })
	s.call("record delete", func() error { return s.cl.DeleteRecord(ctx, rec.Ref(ids.ns)) })
	s.call("var delete stale", func() error { return s.cl.DeleteVariable(ctx, "", ids.varB, int64(idxB)+1) })
	s.call("var delete", func() error { return s.cl.DeleteVariable(ctx, "", ids.varB, int64(idxB)) })
	// Nomad 2.0.5 with ACLs off keeps variables of a namespace that does
	// not exist.
	s.call("var put unknown namespace", func() error {
		_, err := s.cl.PutVariable(ctx, ids.ns+"-missing", ids.varA, items, nomad.NoCAS)
		return err
	})
	s.call("var delete unknown namespace", func() error {
		return s.cl.DeleteVariable(ctx, ids.ns+"-missing", ids.varA, nomad.NoCAS)
	})
	// varA is still there: the namespace cannot go yet.
	s.call("namespace delete refused", func() error { _, err := s.cl.API().Namespaces().Delete(ids.ns, wopts(ctx)); return err })
	s.call("var delete unconditional", func() error { return s.cl.DeleteVariable(ctx, "", ids.varA, nomad.NoCAS) })
}

// failures are the error answers caravan turns into sentences.
func (s *side) failures(ctx context.Context, ids honestIDs) {
	s.call("job missing", func() error { _, err := s.cl.Job(ctx, "", ids.missing); return err })
	s.call("job stop missing", func() error { _, err := s.cl.StopJob(ctx, "", ids.missing); return err })
	other := e2eJob(ids.missing, 0, 0, "0")
	other.Namespace = ptr(ids.ns + "-missing")
	s.call("job register unknown namespace", func() error { _, err := s.cl.RegisterJob(ctx, other, false, 0); return err })
	s.call("job plan unknown namespace", func() error { _, err := s.cl.PlanJob(ctx, other); return err })
	nopool := e2eJob(ids.missing, 0, 0, "0")
	nopool.NodePool = &ids.noPool
	s.call("job register unknown node pool", func() error { _, err := s.cl.RegisterJob(ctx, nopool, false, 0); return err })
	s.call("allocation missing", func() error { _, err := s.cl.Allocation(ctx, "", zeroID); return err })
	s.call("allocation stats missing", func() error { _, err := s.clientAgent().AllocationStats(ctx, zeroID); return err })
	s.call("logs missing", func() error {
		var b bytes.Buffer
		return s.cl.Logs(ctx, zeroID, nomad.LogOptions{Task: "train"}, &b)
	})
	s.call("node missing", func() error { _, err := s.cl.Node(ctx, zeroID); return err })
	s.call("client stats missing", func() error { _, err := s.cl.ClientStats(ctx, zeroID); return err })
	s.call("eligibility missing", func() error { return s.cl.SetEligibility(ctx, zeroID, true) })
	s.call("drain missing", func() error { return s.cl.CancelDrain(ctx, zeroID, true) })
	s.call("node pool missing", func() error { _, _, err := s.cl.API().NodePools().Info(ids.noPool, qopts(ctx)); return err })
}
