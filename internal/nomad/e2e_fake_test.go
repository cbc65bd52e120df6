//go:build e2e && fakee2e

package nomad_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// With -tags 'e2e fakee2e' the end-to-end tests run against the fake,
// whose allocations a background loop moves along (start, log, then
// complete, or fail for IDs containing "fail", or stay running for IDs
// containing "hold"): a dry run of the e2e suite's own logic where no
// Nomad is at hand. The fake serves the client agent's endpoints too.
func TestMain(m *testing.M) {
	srv := nomadtest.NewUnstarted()
	hs := httptest.NewServer(srv.Handler())
	srv.AddNode(nomadtest.NodeSpec{Name: "g", Pool: "gpu", GPUs: 4})
	os.Setenv("NOMAD_ADDR", hs.URL)
	os.Setenv("RIG_GPU_CLIENT_ADDR", hs.URL)
	go srv.Drive(context.Background(), 100*time.Millisecond, nomadtest.ClientScript{
		Stdout: "starting\n",
		Stderr: "caravan-e2e-stderr\n",
		End: func(jobID string) (nomadtest.TaskExit, bool) {
			if strings.Contains(jobID, "fail") {
				return nomadtest.TaskExit{Code: 3}, false
			}
			if strings.Contains(jobID, "hold") {
				return nomadtest.TaskExit{}, true
			}
			return nomadtest.TaskExit{}, false
		},
	})
	os.Exit(m.Run())
}
