// Package autoscale grows and shrinks caravan's GPU pools with demand.
//
// It is the I/O edge around the pure core in internal/autoscale/decide:
// Observe reads Nomad into a decide.State, the loop calls decide.Decide
// and applies each Decision through Nomad (eligibility, drains) and
// Terraform (the pool's node names), and carries Decision.History into the
// next State. It also holds the leader lease, the pool and cost records in
// Nomad Variables, and the Prometheus metrics.
//
// Of several processes, the one holding the lease (leader.go) acts. The
// lease is renewed in the background, every step runs under the
// leadership's context, and every pool record write (a check-and-set,
// carrying the lease's fencing token) and Terraform apply (fenced after
// its plan) is conditional on still holding it: a displaced leader stops
// instead of racing its successor. docs/autoscaling.md says how each of
// the autoscaler's promises holds.
//
// Each time the loop becomes the leader it also creates the Nomad node
// pools of the pools it scales and publishes the operator's pool catalogue
// and policy to Nomad Variables (catalog.go), where validate, plan and
// apply read them.
package autoscale
