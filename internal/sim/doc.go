// Package sim replays GPU workload traces through caravan's autoscaler and
// through simpler policies, side by side, to measure what autoscaling
// costs and saves.
//
// The simulator is event-driven: time jumps from one event (a submission,
// a run finishing, a machine finishing its boot, a timer a policy asked
// for) to the next, so a two-month trace runs in well under a second. At
// each event it places queued runs the way Nomad's default scheduler does
// (best-fit bin-packing, respecting node eligibility; a run that needs more
// GPUs than one node has takes ceil(gpus/gpus_per_node) whole nodes at
// once), then asks the policy what to do and applies the answer. The
// "caravan" policy is autoscale.Policy.DecidePool itself, fed the same
// State that Observe builds from Nomad, so what is measured here is what
// runs in production.
package sim
