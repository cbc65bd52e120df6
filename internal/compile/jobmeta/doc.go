// Package jobmeta holds the job meta keys caravan writes on every job it
// compiles: the contract between the compiler and everything that reads jobs
// back from Nomad (gitops, the agent, reports).
//
// It is a leaf package with no imports so that readers of jobs (the Nomad
// client, the agent) do not link the HCL compiler: the agent runs on every
// GPU machine and its resident memory grows with the binary's size.
// internal/compile re-exports every key under its Meta* names.
package jobmeta
