//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/cli"
	"github.com/caravan-ml/caravan/internal/nomad"
)

// TestApplyInterruptedHalfway: an apply of 300 runs is cut off once Nomad
// holds some of its jobs, as a CI job cancelled mid-apply would be.
// Nothing is lost: the controller writes the record of every job that
// reached Nomad, and the next apply registers exactly the rest.
func TestApplyInterruptedHalfway(t *testing.T) {
	const runs = 300
	s := newSuite(t)
	dir := s.dir()
	// 100 GiB of memory: no client can place them, so they wait, blocked,
	// and load the rig no further than their registration.
	writeFile(t, filepath.Join(dir, "sweep.hcl"), fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/true"
  args    = ["--i", param.i]
  sweep {
    grid = { i = range(%d) }
  }
  resources {
    cpu    = 100
    memory = "100GiB"
  }
}
`, s.prefix+"bulk", runs))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Main(ctx, []string{"apply", dir}, s.env(&out, &errb)) }()
	registered := func() int {
		jobs, err := s.cl.Jobs(context.Background(), s.ns)
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for registered() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("apply registered fewer than 20 jobs in 2 minutes\n%s%s", out.String(), errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	code := <-done
	// A registration cut off in flight may still have reached Nomad: count
	// what Nomad holds once the count has settled.
	k := registered()
	for prev := -1; k != prev; k = registered() {
		prev = k
		time.Sleep(time.Second)
	}
	t.Logf("apply cut off with %d of %d jobs in Nomad: exit %d\n%s", k, runs, code, errb.String())
	if k >= runs {
		t.Skipf("apply registered all %d runs before it was cut off: nothing to check", runs)
	}
	if code == 0 || !strings.Contains(errb.String(), "not submitted: interrupted") || !strings.Contains(errb.String(), "run apply again to finish") {
		t.Errorf("an interrupted apply exited %d, saying:\n%s", code, errb.String())
	}

	t.Log("the controller writes the record of every job that reached Nomad")
	s.waitRecords(k)

	t.Log("the next apply registers the rest, and nothing twice")
	r := s.must(0, "apply", dir)
	contains(t, r.stdout, fmt.Sprintf("Apply complete: %d registered", runs-k))
	if n := registered(); n != runs {
		t.Errorf("%d jobs after the second apply, want %d", n, runs)
	}
	s.waitRecords(runs)
}

// waitRecords waits until the suite's project has n run records.
func (s *suite) waitRecords(n int) {
	s.t.Helper()
	deadline := s.deadline(waitRun)
	for {
		refs, err := s.cl.RecordRefs(context.Background(), s.ns, nomad.RecordScope{Project: s.prefix})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(refs) == n {
			return
		}
		if len(refs) > n || time.Now().After(deadline) {
			s.t.Fatalf("%d run records, want %d", len(refs), n)
		}
		time.Sleep(pollEvery)
	}
}
