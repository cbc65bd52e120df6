package main

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestMain lets a test run this binary as caravan itself: with
// CARAVAN_TEST_MAIN=1 it runs main on its arguments instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CARAVAN_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestWatchSignals: the first signal cancels the command with the signal
// as the cause, and only the second exits, with 128 + the signal.
func TestWatchSignals(t *testing.T) {
	for _, tc := range []struct {
		first, second os.Signal
		code          int
	}{
		{os.Interrupt, os.Interrupt, 130},
		{syscall.SIGTERM, os.Interrupt, 130},
		{os.Interrupt, syscall.SIGTERM, 143},
	} {
		sigs := make(chan os.Signal)
		ctx, cancel := context.WithCancelCause(context.Background())
		exited := make(chan int, 1)
		go watchSignals(sigs, cancel, func(code int) { exited <- code })
		sigs <- tc.first
		<-ctx.Done()
		var s signalled
		if !errors.As(context.Cause(ctx), &s) || s.sig != tc.first {
			t.Errorf("cause %v, want the first signal %v", context.Cause(ctx), tc.first)
		}
		select {
		case code := <-exited:
			t.Fatalf("exited with %d on the first signal", code)
		default:
		}
		sigs <- tc.second
		if code := <-exited; code != tc.code {
			t.Errorf("second signal %v: exit %d, want %d", tc.second, code, tc.code)
		}
	}
}
