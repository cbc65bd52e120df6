//go:build linux

package agent

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// Kmsg reads the kernel log (/dev/kmsg) for OOM kills, from the moment it
// is opened. Reads never block: each call takes what the kernel logged
// since the last one, at most maxKmsgRecords records.
type Kmsg struct {
	mu  sync.Mutex
	fd  int
	buf []byte
}

// maxKmsgRecords bounds one read of the kernel log; a kernel that logs
// more between two snapshots loses the rest to the next one.
const maxKmsgRecords = 4096

// OpenKmsg opens the kernel log at path (/dev/kmsg) at its end. Reading it
// takes root or CAP_SYSLOG.
func OpenKmsg(path string) (*Kmsg, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the kernel log %s: %w", path, err)
	}
	if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("seek to the end of the kernel log %s: %w", path, err)
	}
	return &Kmsg{fd: fd, buf: make([]byte, 8192)}, nil
}

// OOMKills returns the cgroup of every OOM kill logged since the last call.
func (k *Kmsg) OOMKills() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd < 0 {
		return nil
	}
	var out []string
	for range maxKmsgRecords {
		n, err := syscall.Read(k.fd, k.buf)
		switch {
		case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.EINTR):
			continue // records overwritten before they were read; go on from the oldest kept
		case err != nil || n <= 0:
			return out // EAGAIN: nothing more for now
		}
		if cg, ok := oomKillCgroup(kmsgMessage(string(k.buf[:n]))); ok {
			out = append(out, cg)
		}
	}
	return out
}

// Close closes the kernel log.
func (k *Kmsg) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd < 0 {
		return nil
	}
	err := syscall.Close(k.fd)
	k.fd = -1
	return err
}
