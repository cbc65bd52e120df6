package cli

import "testing"

// TestReportBeforeTheRecord: a run that apply just submitted, with no
// controller yet to write its record, is reported from its job (report
// used to answer "no such run" for a run that ls listed).
func TestReportBeforeTheRecord(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	id := srv.JobIDs("default")[0]
	srv.StartAlloc(srv.Allocs("default", id)[0].ID)
	r := execCaravan(t, env, "", "report", id)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "Run "+id, "experiment train", "RUNNING")
}

// TestRerunBeforeTheRecord: rerun, like report, works from the job while
// no controller has written the run's record.
func TestRerunBeforeTheRecord(t *testing.T) {
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")})
	mustCode(t, execCaravan(t, env, "", "apply", dir), ExitOK)
	id := srv.JobIDs("default")[0]
	r := execCaravan(t, env, "", "rerun", id)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "a rerun of "+id)
}
