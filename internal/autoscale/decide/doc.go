// Package decide is the autoscaler's pure core: given a State (the nodes
// of each pool, the work queued for it, the machines asked for that have
// not registered yet, and the History of earlier decisions) it returns one
// Decision per pool: the exact set of node names the pool's Terraform
// module must hold, and the Nomad-side actions (mark ineligible or
// eligible, drain) that get there without ever evicting a running
// allocation.
//
// Decide reads no clock and does no I/O, and the package imports nothing
// that could (internal/layering_test.go checks its transitive imports), so
// it is tested exhaustively and the simulator (internal/sim) replays
// workload traces through the very same code that runs in production.
package decide
