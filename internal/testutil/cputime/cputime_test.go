//go:build unix

package cputime

import (
	"testing"
	"time"
)

func TestProcessGrowsWithWork(t *testing.T) {
	before := Process()
	if before <= 0 {
		t.Fatalf("Process() = %v before any work; a running test has used CPU", before)
	}
	// Spin until the reading moves: getrusage's resolution is a clock tick.
	deadline := time.Now().Add(5 * time.Second)
	for Process() == before {
		if time.Now().After(deadline) {
			t.Fatal("5 s of spinning did not move the process's CPU time")
		}
	}
}
