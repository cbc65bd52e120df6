//go:build e2e

package autoscale_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestE2EPreemptionNoticeMovesRun: the caravan agent of a GPU client
// watches a local stand-in for the AWS metadata endpoint. When it announces
// the machine's interruption, the agent drains the node with the notice's
// deadline and moves the checkpointing run on it: the run checkpoints on
// its signal, resumes from its last step on the other client, and `caravan
// report` lists one move by the preemption.
func TestE2EPreemptionNoticeMovesRun(t *testing.T) {
	e, ckpt := newCheckpointEnv(t, 8*time.Minute)
	e.start("-moves=false")
	e.poll("the autoscaler starts two GPU clients", 3*time.Minute, func() bool { return len(e.readyNodes()) == 2 })
	run := e.submitCounter(ckpt)
	stepFile := filepath.Join(ckpt, run, "step")
	e.poll("the run counts steps", 2*time.Minute, func() bool { return readStep(stepFile) >= 5 })
	from := e.runningAlloc(run)

	meta := &noticeServer{}
	srv := httptest.NewServer(meta)
	defer srv.Close()
	var log bytes.Buffer
	var mu sync.Mutex
	agent := exec.Command(e.bin, "agent", "-listen", "127.0.0.1:0", "-node-id", from.NodeID, "-node", from.NodeName,
		"-preemption-notice", "aws", "-metadata-url", srv.URL, "-preemption-poll", "1s")
	agent.Stdout, agent.Stderr = lockedWriter{&mu, &log}, lockedWriter{&mu, &log}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
	}()
	time.Sleep(3 * time.Second) // the agent polls an endpoint that says nothing yet
	at := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Second)
	meta.announce(at)

	// The drain ends as soon as the run has left, so what stays is the
	// node's last drain, marked with the notice's time, and its
	// ineligibility (the deadline itself is the unit tests').
	e.poll("the agent drains the node for the notice", time.Minute, func() bool {
		n, err := e.nc.Node(e.ctx, from.NodeID)
		return err == nil && n.SchedulingEligibility == "ineligible" && n.LastDrain != nil &&
			n.LastDrain.Meta["preempted_at"] == at.Format(time.RFC3339)
	})
	var to = from
	e.poll("the run resumes on the other client", 2*time.Minute, func() bool {
		if a := e.runningAlloc(run); a != nil && a.ID != from.ID {
			to = a
		}
		return to.ID != from.ID
	})
	if to.NodeName == from.NodeName {
		t.Fatalf("the run was moved onto the node being preempted, %s", to.NodeName)
	}
	saved, resumed := checkpointedStep(t, e.logs(from.ID)), resumedStep(t, e.logs(to.ID))
	if saved < 5 || resumed != saved {
		t.Fatalf("the run checkpointed step %d and resumed from step %d; want the same step, at least 5", saved, resumed)
	}
	if rep := e.report(run); len(rep.Moves) != 1 || rep.Moves[0].By != "preemption" || rep.Moves[0].FromNode != from.NodeName {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("report lists moves %+v; want one by the preemption from %s\nagent log:\n%s", rep.Moves, from.NodeName, log.String())
	}
}

// noticeServer answers as the AWS instance metadata service does: a token,
// then 404 on spot/instance-action until an interruption is announced.
type noticeServer struct {
	mu sync.Mutex
	at time.Time
}

func (s *noticeServer) announce(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = at
}

func (s *noticeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	at := s.at
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		fmt.Fprint(w, "token")
	case r.URL.Path == "/latest/meta-data/spot/instance-action" && r.Header.Get("X-aws-ec2-metadata-token") == "token" && !at.IsZero():
		fmt.Fprintf(w, `{"action":"terminate","time":%q}`, at.UTC().Format(time.RFC3339))
	default:
		http.NotFound(w, r)
	}
}
