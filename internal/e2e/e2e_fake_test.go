//go:build e2e && fakee2e

package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// With -tags 'e2e fakee2e' the suite runs against the fake, whose
// allocations a background loop moves along like a raw_exec client would:
// runs of experiments named "long" keep running, "oom" runs fail with exit
// code 3, the others complete. A rehearsal of the suite's own logic where
// no Nomad is at hand; it proves nothing about a real cluster.
func TestMain(m *testing.M) {
	srv := nomadtest.NewUnstarted()
	hs := httptest.NewServer(srv.Handler())
	srv.AddNode(nomadtest.NodeSpec{Name: "g", Pool: "gpu", GPUs: 4})
	os.Setenv("NOMAD_ADDR", hs.URL)
	ctx, stop := context.WithCancel(context.Background())
	go srv.Drive(ctx, 100*time.Millisecond, nomadtest.ClientScript{
		Stdout: "hello lr=0.1\n",
		Stderr: "progress\nRuntimeError: CUDA out of memory\n",
		End: func(jobID string) (nomadtest.TaskExit, bool) {
			switch {
			case strings.Contains(jobID, "long"):
				return nomadtest.TaskExit{}, true
			case strings.Contains(jobID, "oom"):
				return nomadtest.TaskExit{Code: 3}, false
			}
			return nomadtest.TaskExit{}, false
		},
	})
	code := m.Run()
	stop()
	// The suite promises to leave nothing behind: check that the fake
	// holds no job and no caravan variable after the cleanups ran.
	if code == 0 {
		if left := leftovers(hs.URL); left != "" {
			fmt.Fprintln(os.Stderr, "e2e cleanup left behind:", left)
			code = 1
		}
	}
	os.Exit(code)
}

func leftovers(addr string) string {
	cl, err := nomad.New(nomad.Config{Address: addr})
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var left []string
	jobs, err := cl.Jobs(ctx, nomad.AllNamespaces)
	if err != nil {
		return err.Error()
	}
	for _, j := range jobs {
		left = append(left, "job "+j.ID)
	}
	vars, err := cl.Variables(ctx, nomad.AllNamespaces, "caravan/")
	if err != nil {
		return err.Error()
	}
	for _, v := range vars {
		left = append(left, "variable "+v.Path)
	}
	return strings.Join(left, ", ")
}
