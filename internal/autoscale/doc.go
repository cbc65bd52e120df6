// Package autoscale grows and shrinks caravan's GPU pools with demand.
//
// It is the I/O edge around the pure core in internal/autoscale/decide:
// Observe reads Nomad into a decide.State, the loop calls decide.Decide
// and applies each Decision through Nomad (eligibility, drains) and
// Terraform (the pool's node names), and carries Decision.History into the
// next State. It also holds the leader lease, the pool and cost records in
// Nomad Variables, and the Prometheus metrics.
//
// Each time the loop becomes the leader it also creates the Nomad node
// pools of the pools it scales and publishes the operator's pool catalogue
// and policy to Nomad Variables (catalog.go), where validate, plan and
// apply read them.
package autoscale
