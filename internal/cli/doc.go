// Package cli implements caravan's commands: one file per command, each
// owning its flags, its output and its exit codes. Everything below cli
// returns values, diagnostics and errors; only this package turns them into
// text for people and exit codes for scripts.
//
// Build tag agentonly: the agent runs on every GPU machine, and its resident
// memory grows with the pages of the binary it touches, so `make agent`
// builds bin/caravan-agent with -tags agentonly. Every file that is not the
// agent, the version command or their helpers starts with
// `//go:build !agentonly`; a new command file needs that line too
// (TestAgentOnlyBuild fails otherwise).
package cli
