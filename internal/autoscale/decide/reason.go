package decide

import (
	"fmt"
	"strings"
	"time"
)

// rule is what made a phase of a decision act.
type rule int

const (
	ruleBootTimeout      rule = iota // machines not registered within boot_timeout: replaced
	ruleDown                         // nodes down: replaced
	ruleUnschedulable                // queued requests no node can hold: reported, not scaled for
	ruleMaxNodes                     // queued requests that wait: max_nodes reached
	ruleReenable                     // cordoned or draining nodes back for queued work
	ruleKeptForMinNodes              // a draining node kept: min_nodes needs it after a failure
	ruleGotWork                      // a draining node got work: it keeps it
	ruleMinNodes                     // machines created to keep min_nodes
	ruleIdleTimeout                  // empty nodes idle for idle_timeout: scaled in
	ruleMinIdle                      // empty nodes idle for min_idle, not needed by the warm buffer: scaled in
	ruleConsolidate                  // lightly used nodes cordoned to run dry
	ruleQueued                       // new machines for queued work
	ruleMisplacedDrained             // nodes of another node pool drained by an operator: removed
	ruleMisplacedHold                // queued requests that wait: the pool's machines join another node pool
	ruleMove                         // a node emptied by moving its checkpointing work
)

// reason is one thing a phase decided and the rule behind it, with the
// figures the rule used. Only the fields its rule reads are set.
type reason struct {
	rule rule
	// nodes are the nodes or machines acted on, for rules that name them.
	nodes []string
	// requests and machines count queued requests and new machines.
	requests, machines int
	// limit is the pool's min_nodes or max_nodes, or the warm buffer in
	// GPUs for ruleMinIdle (0: no buffer).
	limit int
	// after is the boot_timeout, idle_timeout or min_idle that fell due.
	after time.Duration
	// gpuHours is the saving a move expects, net of its cost.
	gpuHours float64
}

// String says the reason in the words operators read in logs, `caravan
// pools` and the pool record.
func (r reason) String() string {
	switch r.rule {
	case ruleBootTimeout:
		return fmt.Sprintf("%d machine(s) not registered within boot_timeout %s", len(r.nodes), r.after)
	case ruleDown:
		return fmt.Sprintf("%d node(s) down", len(r.nodes))
	case ruleUnschedulable:
		return fmt.Sprintf("%d queued request(s) larger than one node", r.requests)
	case ruleMaxNodes:
		return fmt.Sprintf("%d queued request(s) wait: max_nodes %d reached", r.requests, r.limit)
	case ruleReenable:
		return fmt.Sprintf("queued work needs %d cordoned node(s) back", len(r.nodes))
	case ruleKeptForMinNodes:
		return fmt.Sprintf("node %s kept for min_nodes %d", strings.Join(r.nodes, ", "), r.limit)
	case ruleGotWork:
		return fmt.Sprintf("node %s got work while draining; it keeps it", strings.Join(r.nodes, ", "))
	case ruleMinNodes:
		return fmt.Sprintf("%d machine(s) to keep min_nodes %d", r.machines, r.limit)
	case ruleIdleTimeout:
		return fmt.Sprintf("%d empty node(s) idle for idle_timeout %s, scaling in", len(r.nodes), r.after)
	case ruleMinIdle:
		if r.limit > 0 {
			return fmt.Sprintf("%d empty node(s) idle for min_idle %s and not needed for the warm buffer of %d GPU(s), scaling in", len(r.nodes), r.after, r.limit)
		}
		return fmt.Sprintf("%d empty node(s) idle for min_idle %s, scaling in", len(r.nodes), r.after)
	case ruleConsolidate:
		return fmt.Sprintf("consolidating: cordoned %d node(s) holding only young work", len(r.nodes))
	case ruleQueued:
		return fmt.Sprintf("%d queued request(s) need %d new machine(s)", r.requests, r.machines)
	case ruleMisplacedHold:
		return fmt.Sprintf("%d queued request(s) wait: no new machine while %s registered with another node pool (fix the module's node_pool)", r.requests, strings.Join(r.nodes, ", "))
	case ruleMove:
		return fmt.Sprintf("moving %d checkpointing run(s) off node %s to empty it: expected saving %.2f GPU-hours net of the moves", r.requests, strings.Join(r.nodes, ", "), r.gpuHours)
	case ruleMisplacedDrained:
		return fmt.Sprintf("%d node(s) registered with another node pool and drained by an operator", len(r.nodes))
	}
	return fmt.Sprintf("rule %d", int(r.rule))
}

// explain joins the phases' reasons, in the order the phases ran, into
// Decision.Reason.
func explain(phases ...[]reason) string {
	var parts []string
	for _, why := range phases {
		for _, r := range why {
			parts = append(parts, r.String())
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}
