//go:build cgo && linux

package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errNoWriteProtect says the kernel, or the process's privileges, offer no
// userfaultfd write protection for a range.
var errNoWriteProtect = errors.New("no userfaultfd write protection")

// The userfaultfd ABI (linux/userfaultfd.h), which golang.org/x/sys/unix
// does not carry. The ioctl numbers encode the sizes of the structs below.
const (
	uffdAPI              = 0xAA
	uffdioAPI            = 0xc018aa3f // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister       = 0xc020aa00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioWriteProtect   = 0xc018aa06 // _IOWR(0xAA, 0x06, struct uffdio_writeprotect)
	uffdRegisterModeWP   = 1 << 1
	uffdWriteProtectWP   = 1 << 0
	uffdioWriteProtectNr = 0x06 // bit in uffdio_register.ioctls
)

type uffdioAPIArg struct{ API, Features, Ioctls uint64 }

type uffdioRegisterArg struct{ Start, Len, Mode, Ioctls uint64 }

type uffdioWriteProtectArg struct{ Start, Len, Mode uint64 }

// /proc/PID/pagemap bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pagemapPresent = 1 << 63
	pagemapUffdWP  = 1 << 57 // the PTE is write-protected by userfaultfd (Linux 5.13+)
)

// writeProtection is a userfaultfd holding mem's resident pages
// write-protected: a write to one of them, from any thread and from the
// kernel on a thread's behalf, waits until end.
type writeProtection struct {
	fd  int
	arg uffdioWriteProtectArg
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// writeProtect write-protects the pages of mem that are resident now. It
// returns an error wrapping errNoWriteProtect where that cannot be done:
// no userfaultfd (old kernel, seccomp), no privilege for one that also
// catches the kernel's writes (the process needs CAP_SYS_PTRACE, or
// vm.unprivileged_userfaultfd=1), or memory the kernel cannot
// write-protect. A user-mode-only userfaultfd is not used on purpose: the
// kernel's own writes into the range (a driver ioctl filling a buffer
// there) would fail with EFAULT instead of waiting.
func writeProtect(mem []byte) (*writeProtection, error) {
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("%w: userfaultfd: %w", errNoWriteProtect, errno)
	}
	w := &writeProtection{fd: int(fd)}
	fail := func(what string, err error) (*writeProtection, error) {
		unix.Close(w.fd)
		return nil, fmt.Errorf("%w: %s: %w", errNoWriteProtect, what, err)
	}
	api := uffdioAPIArg{API: uffdAPI}
	if err := ioctl(w.fd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
		return fail("UFFDIO_API", err)
	}
	start, n := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(mem)))), uint64(len(mem))
	reg := uffdioRegisterArg{Start: start, Len: n, Mode: uffdRegisterModeWP}
	if err := ioctl(w.fd, uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		return fail("UFFDIO_REGISTER", err)
	}
	if reg.Ioctls&(1<<uffdioWriteProtectNr) == 0 {
		return fail("UFFDIO_REGISTER", errors.New("the range offers no UFFDIO_WRITEPROTECT"))
	}
	w.arg = uffdioWriteProtectArg{Start: start, Len: n, Mode: uffdWriteProtectWP}
	if err := ioctl(w.fd, uffdioWriteProtect, unsafe.Pointer(&w.arg)); err != nil {
		return fail("UFFDIO_WRITEPROTECT", err)
	}
	return w, nil
}

// end lifts the protection, which wakes the writers waiting on it, and
// closes the userfaultfd (which unregisters the range). The writers go on
// either way: closing alone wakes them too.
func (w *writeProtection) end() error {
	arg := w.arg
	arg.Mode = 0
	err := ioctl(w.fd, uffdioWriteProtect, unsafe.Pointer(&arg))
	if cerr := unix.Close(w.fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ending the write protection: %w", err)
	}
	return nil
}

// pagemap returns the /proc/self/pagemap entry of every page of mem.
func pagemap(mem []byte, page int) ([]uint64, error) {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, len(mem)/page*8)
	first := uintptr(unsafe.Pointer(unsafe.SliceData(mem))) / uintptr(page)
	if _, err := f.ReadAt(buf, int64(first)*8); err != nil {
		return nil, err
	}
	out := make([]uint64, len(mem)/page)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[i*8:])
	}
	return out, nil
}

// dropZeroPagesProtected is dropZeroPages made safe against other threads
// writing to mem: while the pages are checked and released they are
// write-protected, so a write to a page that was all zero waits, and then
// lands on the fresh zero-filled page that replaced it, which holds what
// the old one held. Only pages the pagemap shows resident and protected
// are candidates: a page first touched after the protection began may be
// written at any moment. between, when not nil, runs after the check and
// before the release (tests use it to write in that window).
//
// The error wraps errNoWriteProtect, with nothing released, where the
// kernel offers no write protection (see writeProtect).
func dropZeroPagesProtected(mem []byte, between func()) (released int, err error) {
	page, err := wholePages(mem)
	if err != nil || len(mem) == 0 {
		return 0, err
	}
	w, err := writeProtect(mem)
	if err != nil {
		return 0, err
	}
	defer func() {
		if eerr := w.end(); err == nil {
			err = eerr
		}
	}()
	pm, err := pagemap(mem, page)
	if err != nil {
		return 0, fmt.Errorf("dropping zero pages: reading /proc/self/pagemap: %w", err)
	}
	present, protected := 0, 0
	for _, e := range pm {
		if e&pagemapPresent != 0 {
			present++
			if e&pagemapUffdWP != 0 {
				protected++
			}
		}
	}
	if present > 0 && protected == 0 {
		// Linux 5.7 to 5.12 protect but do not show it in the pagemap,
		// and no page can be known safe.
		return 0, fmt.Errorf("%w: the pagemap shows no protected page (Linux before 5.13)", errNoWriteProtect)
	}
	runs := zeroRuns(mem, page, func(i int) bool {
		return pm[i]&(pagemapPresent|pagemapUffdWP) == pagemapPresent|pagemapUffdWP
	})
	if between != nil {
		between()
	}
	return dropRuns(mem, page, runs)
}
