package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// TestShowNamesNoACLStandIn: with ACLs off Nomad names a stand-in token as
// the caller; show never prints it as the submitter, neither for runs
// submitted now nor for records an older caravan wrote with it.
func TestShowNamesNoACLStandIn(t *testing.T) {
	srv, env, ids := appliedCluster(t)
	_ = srv
	r := execCaravan(t, env, "", "show", ids[0])
	mustCode(t, r, ExitOK)
	if strings.Contains(r.stdout, "ACLs disabled") || strings.Contains(r.stdout, "acls-disabled") {
		t.Errorf("show names the stand-in token:\n%s", r.stdout)
	}
	var b strings.Builder
	writeShow(&b, &showDoc{ID: "x-1", Record: &record.Run{RunID: "x-1", SubmittedBy: "ACLs disabled token", SubmittedAt: time.Now()}}, time.Now())
	if strings.Contains(b.String(), "ACLs disabled") {
		t.Errorf("show of an old record names the stand-in token:\n%s", b.String())
	}
}
