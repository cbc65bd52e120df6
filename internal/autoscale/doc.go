// Package autoscale grows and shrinks caravan's GPU pools with demand.
//
// It is the I/O edge around the pure core in internal/autoscale/decide:
// Observe reads Nomad into a decide.State, the loop calls decide.Decide
// and applies each Decision through Nomad (eligibility, drains) and
// Terraform (the pool's node names), and carries Decision.History into the
// next State. It also holds the leader lease, the pool and cost records in
// Nomad Variables, and the Prometheus metrics.
package autoscale
