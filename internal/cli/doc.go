// Package cli implements caravan's commands: one file per command, each
// owning its flags, its output and its exit codes. Everything below cli
// returns values, diagnostics and errors; only this package turns them into
// text for people and exit codes for scripts.
//
// `caravan agent` is the node agent's command from internal/agent/agentcmd,
// which cmd/caravan-agent, the binary GPU nodes run, calls too.
package cli
