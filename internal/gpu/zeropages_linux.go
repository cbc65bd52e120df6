//go:build cgo && linux

package gpu

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropZeroPages hands back to the kernel every resident page of mem whose
// bytes are all zero, and returns how many bytes it released.
//
// mem must be page-aligned private anonymous memory that no other thread
// writes meanwhile. For such memory, madvise(MADV_DONTNEED) makes the next
// access find a fresh zero-filled page: what the page held, so only
// residency changes. Pages that are not resident are skipped (reading them
// would map the kernel's zero page, which is harmless but pointless).
func dropZeroPages(mem []byte) (int, error) {
	page := os.Getpagesize()
	if len(mem) == 0 {
		return 0, nil
	}
	if len(mem)%page != 0 {
		return 0, fmt.Errorf("dropping zero pages: %d bytes is not a whole number of %d-byte pages", len(mem), page)
	}
	resident := make([]byte, len(mem)/page)
	if err := mincore(mem, resident); err != nil {
		return 0, fmt.Errorf("dropping zero pages: mincore: %w", err)
	}
	zero := make([]byte, page)
	released := 0
	start := -1 // first page of the current run of zero pages, or -1
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		if err := unix.Madvise(mem[start*page:end*page], unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("dropping zero pages: madvise: %w", err)
		}
		released += (end - start) * page
		start = -1
		return nil
	}
	for i := range resident {
		if resident[i]&1 == 1 && bytes.Equal(mem[i*page:(i+1)*page], zero) {
			if start < 0 {
				start = i
			}
			continue
		}
		if err := flush(i); err != nil {
			return released, err
		}
	}
	return released, flush(len(resident))
}

// mincore sets bit 0 of resident[i] when page i of mem is in memory
// (golang.org/x/sys/unix has no Linux wrapper for it).
func mincore(mem, resident []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&resident[0])))
	if errno != 0 {
		return errno
	}
	return nil
}
