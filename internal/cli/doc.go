// Package cli implements caravan's commands: one file per command, each
// owning its flags, its output and its exit codes. Everything below cli
// returns values, diagnostics and errors; only this package turns them into
// text for people and exit codes for scripts.
package cli
