//go:build cgo && unix

// Package cthread starts OS threads from C, threads the Go runtime knows
// nothing about, so that tests can check code that must notice them (see
// gpu.Threads). It exists for tests only.
package cthread

/*
#include <pthread.h>
#include <unistd.h>

// Blocks until the write end of the pipe is closed.
static void *caravan_cthread_wait(void *arg) {
	char b;
	while (read((int)(long)arg, &b, 1) > 0) {
	}
	return NULL;
}

static int caravan_cthread_start(int fd, pthread_t *t) {
	return pthread_create(t, NULL, caravan_cthread_wait, (void *)(long)fd);
}

static int caravan_cthread_join(pthread_t t) {
	return pthread_join(t, NULL);
}
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
)

// Thread is a running C thread, blocked until Stop.
type Thread struct {
	t    C.pthread_t
	r, w *os.File
}

// Start starts a C thread that waits until Stop.
func Start() (*Thread, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting a C thread: %w", err)
	}
	th := &Thread{r: r, w: w}
	if rc := C.caravan_cthread_start(C.int(r.Fd()), &th.t); rc != 0 {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("starting a C thread: pthread_create: %w", syscall.Errno(rc))
	}
	return th, nil
}

// Stop ends the thread and waits until it has exited.
func (th *Thread) Stop() error {
	th.w.Close()
	rc := C.caravan_cthread_join(th.t)
	th.r.Close()
	if rc != 0 {
		return fmt.Errorf("joining a C thread: %w", syscall.Errno(rc))
	}
	return nil
}
