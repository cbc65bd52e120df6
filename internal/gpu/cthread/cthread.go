//go:build cgo && unix

// Package cthread starts OS threads from C, threads the Go runtime knows
// nothing about, so that tests can check code that must notice them (see
// gpu.Threads) or must not lose their writes (Writer, for the
// write-protected zero-page release). It exists for tests only.
package cthread

/*
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
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

struct caravan_writer {
	int go, done;
	volatile char *p;
	char v;
};

// Waits for a byte on go, stores v at p, then writes a byte to done. If go
// is closed first, it exits without storing.
static void *caravan_cthread_write(void *arg) {
	struct caravan_writer w = *(struct caravan_writer *)arg;
	free(arg);
	char b;
	if (read(w.go, &b, 1) == 1) {
		*w.p = w.v;
		(void)!write(w.done, &b, 1);
	}
	return NULL;
}

static int caravan_cthread_writer(int go, int done, uintptr_t p, char v, pthread_t *t) {
	struct caravan_writer *w = malloc(sizeof *w);
	if (w == NULL) {
		return 12; // ENOMEM
	}
	w->go = go;
	w->done = done;
	w->p = (volatile char *)p;
	w->v = v;
	int rc = pthread_create(t, NULL, caravan_cthread_write, w);
	if (rc != 0) {
		free(w);
	}
	return rc;
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
	"time"
	"unsafe"
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

// Writer is a C thread that stores one byte into memory when told to, to
// test code that must not lose a write made by a thread it cannot stop.
type Writer struct {
	t            C.pthread_t
	goR, goW     *os.File
	doneR, doneW *os.File
}

// StartWriter starts a C thread that, once Write is called, stores v at p
// and then says so to Done. p must not point into Go memory (use memory
// from mmap).
func StartWriter(p *byte, v byte) (*Writer, error) {
	goR, goW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting a C writer: %w", err)
	}
	doneR, doneW, err := os.Pipe()
	if err != nil {
		goR.Close()
		goW.Close()
		return nil, fmt.Errorf("starting a C writer: %w", err)
	}
	w := &Writer{goR: goR, goW: goW, doneR: doneR, doneW: doneW}
	if rc := C.caravan_cthread_writer(C.int(goR.Fd()), C.int(doneW.Fd()), C.uintptr_t(uintptr(unsafe.Pointer(p))), C.char(v), &w.t); rc != 0 {
		for _, f := range []*os.File{goR, goW, doneR, doneW} {
			f.Close()
		}
		return nil, fmt.Errorf("starting a C writer: pthread_create: %w", syscall.Errno(rc))
	}
	return w, nil
}

// Write tells the thread to store its byte, without waiting for the store.
func (w *Writer) Write() error {
	_, err := w.goW.Write([]byte{1})
	return err
}

// Done reports whether the store has completed, waiting up to timeout.
func (w *Writer) Done(timeout time.Duration) bool {
	w.doneR.SetReadDeadline(time.Now().Add(timeout))
	n, _ := w.doneR.Read(make([]byte, 1))
	return n == 1
}

// Stop waits for the thread to exit (after its store, or at once when
// Write was never called) and frees its pipes.
func (w *Writer) Stop() error {
	w.goW.Close()
	rc := C.caravan_cthread_join(w.t)
	for _, f := range []*os.File{w.goR, w.doneR, w.doneW} {
		f.Close()
	}
	if rc != 0 {
		return fmt.Errorf("joining a C writer: %w", syscall.Errno(rc))
	}
	return nil
}
