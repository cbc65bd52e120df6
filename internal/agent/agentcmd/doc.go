// Package agentcmd is the node agent's command: its flags, its start-up
// (the node's identity from the local Nomad agent when the flags leave it
// out, NVML, the kernel log, the Nomad client, the listener) and its run
// until the context ends. Two binaries run it with the same flags:
// cmd/caravan-agent, the one GPU nodes run, which links nothing else, and
// `caravan agent` in the full CLI. Each parses the command line its own way
// and turns Run's error into its exit code.
package agentcmd
