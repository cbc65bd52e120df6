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
// writes meanwhile (dropZeroPagesProtected lifts that condition where the
// kernel can write-protect the range). For such memory,
// madvise(MADV_DONTNEED) makes the next access find a fresh zero-filled
// page: what the page held, so only residency changes. Pages that are not
// resident are skipped (reading them would map the kernel's zero page,
// which is harmless but pointless).
func dropZeroPages(mem []byte) (int, error) {
	page, err := wholePages(mem)
	if err != nil || len(mem) == 0 {
		return 0, err
	}
	resident := make([]byte, len(mem)/page)
	if err := mincore(mem, resident); err != nil {
		return 0, fmt.Errorf("dropping zero pages: mincore: %w", err)
	}
	runs := zeroRuns(mem, page, func(i int) bool { return resident[i]&1 == 1 })
	return dropRuns(mem, page, runs)
}

// wholePages returns the page size, or an error when mem is not a whole
// number of pages.
func wholePages(mem []byte) (int, error) {
	page := os.Getpagesize()
	if len(mem)%page != 0 {
		return 0, fmt.Errorf("dropping zero pages: %d bytes is not a whole number of %d-byte pages", len(mem), page)
	}
	return page, nil
}

// zeroRuns lists the runs [from, to) of consecutive pages i of mem for
// which candidate(i) holds and whose bytes are all zero.
func zeroRuns(mem []byte, page int, candidate func(i int) bool) [][2]int {
	zero := make([]byte, page)
	var runs [][2]int
	for i := 0; i < len(mem)/page; i++ {
		if !candidate(i) || !bytes.Equal(mem[i*page:(i+1)*page], zero) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1][1] == i {
			runs[n-1][1] = i + 1
		} else {
			runs = append(runs, [2]int{i, i + 1})
		}
	}
	return runs
}

// dropRuns gives the pages of runs back to the kernel and returns how many
// bytes it released.
func dropRuns(mem []byte, page int, runs [][2]int) (int, error) {
	released := 0
	for _, r := range runs {
		if err := unix.Madvise(mem[r[0]*page:r[1]*page], unix.MADV_DONTNEED); err != nil {
			return released, fmt.Errorf("dropping zero pages: madvise: %w", err)
		}
		released += (r[1] - r[0]) * page
	}
	return released, nil
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
