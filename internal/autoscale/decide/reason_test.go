package decide

import (
	"testing"
	"time"
)

// TestReasonWords pins the words of every rule: operators read them in
// logs, `caravan pools` and pool records, and tests grep them.
func TestReasonWords(t *testing.T) {
	two := []string{"a100-1", "a100-2"}
	tests := []struct {
		r    reason
		want string
	}{
		{reason{rule: ruleBootTimeout, nodes: two, after: 15 * time.Minute}, "2 machine(s) not registered within boot_timeout 15m0s"},
		{reason{rule: ruleDown, nodes: two[:1]}, "1 node(s) down"},
		{reason{rule: ruleUnschedulable, requests: 3}, "3 queued request(s) larger than one node"},
		{reason{rule: ruleMaxNodes, requests: 4, limit: 10}, "4 queued request(s) wait: max_nodes 10 reached"},
		{reason{rule: ruleReenable, nodes: two}, "queued work needs 2 cordoned node(s) back"},
		{reason{rule: ruleKeptForMinNodes, nodes: two[:1], limit: 2}, "node a100-1 kept for min_nodes 2"},
		{reason{rule: ruleGotWork, nodes: two[1:]}, "node a100-2 got work while draining; it keeps it"},
		{reason{rule: ruleMinNodes, machines: 2, limit: 3}, "2 machine(s) to keep min_nodes 3"},
		{reason{rule: ruleIdleTimeout, nodes: two, after: 10 * time.Minute}, "2 empty node(s) idle for idle_timeout 10m0s, scaling in"},
		{reason{rule: ruleMinIdle, nodes: two[:1], after: time.Minute}, "1 empty node(s) idle for min_idle 1m0s, scaling in"},
		{reason{rule: ruleMinIdle, nodes: two, after: time.Minute, limit: 4}, "2 empty node(s) idle for min_idle 1m0s and not needed for the warm buffer of 4 GPU(s), scaling in"},
		{reason{rule: ruleConsolidate, nodes: two}, "consolidating: cordoned 2 node(s) holding only young work"},
		{reason{rule: ruleQueued, requests: 5, machines: 2}, "5 queued request(s) need 2 new machine(s)"},
		{reason{rule: ruleMisplacedHold, requests: 2, nodes: []string{"a"}}, "2 queued request(s) wait: no new machine while a registered with another node pool (fix the module's node_pool)"},
		{reason{rule: ruleMisplacedDrained, nodes: []string{"a", "b"}}, "2 node(s) registered with another node pool and drained by an operator"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("rule %d: %q, want %q", tt.r.rule, got, tt.want)
		}
	}
	if got := explain(nil, []reason{tests[1].r}, nil, []reason{tests[2].r}); got != "1 node(s) down; 3 queued request(s) larger than one node" {
		t.Errorf("explain joins to %q", got)
	}
	if got := explain(nil, nil); got != "no change" {
		t.Errorf("explain of nothing is %q, want no change", got)
	}
}
