package cli

import (
	"testing"
	"time"
)

// TestReportRunningRuntime: a run that started a minute ago and prints
// nothing has run for a minute, not for the time between its first events
// (the report of a running run used to stop its clock at the last event:
// "running for 322ms").
func TestReportRunningRuntime(t *testing.T) {
	srv, env := gitopsCluster(t)
	srv.Now = func() time.Time { return time.Now().Add(-time.Minute) }
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	recordRuns(t, env)
	id := srv.JobIDs("default")[0]
	srv.StartAlloc(srv.Allocs("default", id)[0].ID)
	r := execCaravan(t, env, "", "report", id)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "RUNNING: on gpu-node-1 for 1m", "1m so far")
}
