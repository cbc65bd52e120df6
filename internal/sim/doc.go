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
// once), then asks the policy what to do and applies the answer.
//
// The policies compared:
//
//   - caravan: decide.DefaultPolicy's DecidePool itself, fed the same
//     PoolState that Observe builds from Nomad, so what is measured here
//     is what runs in production;
//   - reactive: decide.IdleTimeoutPolicy through the same code: boot
//     machines for the bin-packed queue, scale in an empty node after the
//     pool's idle_timeout, no consolidation, no early scale-in;
//   - baseline: a nomad-autoscaler-like target-value policy on GPU
//     utilisation (10 s evaluation interval, 5 min cooldown, 80% target,
//     removes only empty nodes);
//   - static_peak: a fixed pool as large as the trace's peak demand.
//
// A machine is paid from the moment it is asked for until its name leaves
// the pool. LowerBound gives the paid/used ratio of an ideal no real policy
// reaches (instant boots and perfect repacking at every instant), to show
// how much of the remaining waste any policy could still win. The report's
// InstantMachines runs caravan's policy with machines that boot and leave
// at once: the waste left there comes from where Nomad placed work, which
// an autoscaler that never moves running work cannot undo, so a policy's
// paid/used above it is the autoscaler's own overhead.
//
// With a checkpoint overhead every single-node job checkpoints, and
// caravan's policy moves work to empty nodes exactly as the autoscaler
// does (the move phase of Decide); each move costs the job's GPUs for the
// overhead. With Spot, each pool gets a spot twin for the jobs that
// checkpoint, whose machines are preempted at seeded exponential times: a
// preempted job resumes elsewhere with the overhead lost (one that cannot
// checkpoint starts again), and each policy is also replayed on on-demand
// machines alone to price the spot run against.
package sim
