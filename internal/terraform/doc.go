// Package terraform drives one Terraform workdir per caravan pool through
// terraform-exec: it writes a small root module that calls the pool's
// module with the `nodes` set, the pool's `node_pool` and vars, runs
// `init` once, then `plan` and `apply` of each new node set, and reads
// back the node names the state holds and which of them are tainted.
// Before planning it untaints what Terraform must not replace (a machine
// that registered with Nomad) or must destroy with its destroy-time steps
// (a name leaving the set); after planning it calls the caller's fence and
// refuses a plan that would destroy a machine it keeps.
//
// The files split by concern, as terraform-exec does: root.go renders the
// workdir's files (pure), state.go reads node names out of a state (pure),
// module.go reads the variables a pool module declares,
// binary.go finds the terraform executable, logwriter.go turns Terraform's
// output into log records, errors.go condenses Terraform's diagnostics,
// perms.go keeps each workdir private (0700 directories, 0600 files: the
// state holds the pool's vars), and workspace.go runs the commands.
//
// Terraform itself is never downloaded by caravan: it is found on PATH or
// at the pool's terraform_bin. See terraform/README.md for installing a
// pinned version with hc-install.
package terraform
