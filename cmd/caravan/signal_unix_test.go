//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowSweep is a configuration whose runs each evaluate a for expression
// of 131,072 elements: its validate takes minutes of CPU, so only a
// validate that honours the signal ends before the test gives up.
const slowSweep = `experiment "slow" {
  image   = "img"
  command = "python"
  args    = [length([for i in range(256) : [for j in range(512) : "${param.s}${j}"]])]
  params  = { s = 0 }
  sweep {
    grid = { s = range(1000) }
  }
}
`

// TestSignalStopsValidate runs caravan validate on slowSweep and sends it
// SIGINT and SIGTERM once it is busy: it must stop, say it was
// interrupted, and exit 130 or 143. Before, signal.NotifyContext swallowed
// the signal and loading never looked at the context, so neither Ctrl-C
// nor `timeout` nor a CI cancel stopped it.
func TestSignalStopsValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs caravan in a subprocess")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.hcl"), []byte(slowSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "validate", dir)
			cmd.Env = append(os.Environ(), "CARAVAN_TEST_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitBusy(t, cmd.Process.Pid)
			cmd.Process.Signal(tc.sig)
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
					t.Fatalf("exit %v, want code %d; stderr:\n%s", err, tc.code, stderr.String())
				}
				if !strings.Contains(stderr.String(), "Error: Interrupted") {
					t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
				}
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				<-done
				t.Fatalf("validate did not stop on %v", tc.sig)
			}
		})
	}
}

// waitBusy waits until process pid has used a quarter second of CPU, so
// that a signal reaches it while it loads rather than before main set up
// its handlers.
func waitBusy(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			time.Sleep(2 * time.Second) // no /proc: give it time to start
			return
		}
		// Fields after the command name: utime and stime are the 12th
		// and 13th, in clock ticks (100 per second).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		if utime+stime >= 25 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("caravan did not get busy within a minute")
}
