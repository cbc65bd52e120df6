//go:build e2e && fakee2e

package nomad_test

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

// With -tags 'e2e fakee2e' the end-to-end tests run against the fake,
// whose allocations a background loop moves along (start, log, then
// complete, or fail for IDs containing "fail"): a dry run of the e2e
// suite's own logic where no Nomad is at hand.
func TestMain(m *testing.M) {
	srv := nomadtest.NewUnstarted()
	hs := httptest.NewServer(srv.Handler())
	srv.AddNode(nomadtest.NodeSpec{Name: "g", Pool: "gpu", GPUs: 4})
	os.Setenv("NOMAD_ADDR", hs.URL)
	go func() {
		for {
			time.Sleep(100 * time.Millisecond)
			for _, id := range srv.JobIDs("*") {
				for _, a := range srv.Allocs("default", id) {
					switch a.ClientStatus {
					case "pending":
						srv.StartAlloc(a.ID)
						srv.WriteLog(a.ID, "train", false, "starting\n")
						srv.WriteLog(a.ID, "train", true, "caravan-e2e-stderr\n")
					case "running":
						if strings.Contains(id, "fail") {
							srv.FailAlloc(a.ID, 3)
						} else {
							srv.CompleteAlloc(a.ID)
						}
					}
				}
			}
		}
	}()
	os.Exit(m.Run())
}
