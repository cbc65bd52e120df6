// Package cputime reads the CPU time the test process has used, for
// benchmarks that report cpu-ms/op beside wall time: on a busy shared
// machine CPU time is inflated far less than wall time. Only tests import
// it.
package cputime
