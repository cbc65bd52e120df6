// Package hcinstall installs an exact release of a HashiCorp binary (nomad,
// terraform, or the nomad-device-nvidia plugin) from releases.hashicorp.com
// into a directory and prints the installed path:
//
//	go run ./cmd/hcinstall -product nomad -version 2.0.5 -dir bin/
//	go run ./cmd/hcinstall -product nomad-device-nvidia -version 1.1.0 -dir /opt/nomad/plugins
//
// Why it exists: current Debian releases do not package Nomad, and
// `go install github.com/hashicorp/nomad@vX` is refused because Nomad's
// go.mod carries replace directives, so setting up a development host, a CI
// runner for `make e2e` or a GPU client otherwise means adding HashiCorp's
// package repository, or hand-written curl|unzip steps that skip signature
// checks. hc-install
// verifies HashiCorp's PGP signature and the SHA-256 sums of the download,
// and this wrapper adds what an operator needs around it: a pinned version
// (no "latest" surprises between machines), a re-run that keeps an
// already-installed binary of the right version, a timeout, a -releases-url
// for an internal mirror, and errors that say what to do on a machine that
// cannot reach the internet.
//
// Exit codes: 0 installed (or already present), 1 the install failed,
// 2 bad flags or arguments.
package hcinstall
