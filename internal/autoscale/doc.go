// Package autoscale grows and shrinks caravan's GPU pools with demand.
//
// The package has a pure heart and an I/O edge. The heart is Decide: given
// a State (the nodes of each pool, the work queued for it, the machines that
// were asked for but have not registered yet, and the memory of earlier
// decisions) it returns one Decision per pool: the exact set of node names
// the pool's Terraform module must hold, and the Nomad-side actions (mark
// ineligible or eligible, drain) that get there without ever evicting a
// running allocation. Decide reads no clock and does no I/O, so it is tested
// exhaustively and the simulator (internal/sim) replays workload traces
// through the very same function.
//
// The edge (Observe from Nomad, the loop that applies decisions through
// Terraform and Nomad, the leader lock and metrics) builds a State, calls
// Decide, and carries Decision.Memory into the next State. Each time the
// loop becomes the leader it also creates the Nomad node pools of the pools
// it scales and publishes the operator's pool catalogue and policy to
// Nomad Variables (catalog.go), where validate, plan and apply read them.
package autoscale
