// Package e2e holds caravan's end-to-end suite (build tag e2e): every
// GitOps and run command against a real Nomad at NOMAD_ADDR. Run it with
// `make e2e`; without NOMAD_ADDR it skips with one line saying why.
//
// The suite calls cli.Main in-process with the process environment (so
// NOMAD_TOKEN, NOMAD_NAMESPACE and the TLS variables apply exactly as for
// the binary), which exercises the same code as the built caravan binary
// without a build step, and lets failures point at the command's output.
package e2e
