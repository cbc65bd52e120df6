//go:build cgo && linux

package gpu

/*
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct caravan_bss {
	const char *name;
	uintptr_t start, end;
};

// One loaded object's writable PT_LOAD segment past its file-backed part:
// the .bss pages the loader mapped as anonymous memory.
static int caravan_bss_cb(struct dl_phdr_info *info, size_t size, void *data) {
	struct caravan_bss *b = data;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, b->name) == NULL) {
		return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || (p->p_flags & PF_W) == 0 || p->p_memsz <= p->p_filesz) {
			continue;
		}
		uintptr_t start = info->dlpi_addr + p->p_vaddr + p->p_filesz;
		uintptr_t end = info->dlpi_addr + p->p_vaddr + p->p_memsz;
		if (end - start > b->end - b->start) {
			b->start = start;
			b->end = end;
		}
	}
	return 1;
}

// Whole pages only: the page holding the end of the file-backed data is a
// copy of the file, and dropping it would bring the file's bytes back.
static void *caravan_find_bss(const char *name, size_t *len) {
	struct caravan_bss b = {name, 0, 0};
	dl_iterate_phdr(caravan_bss_cb, &b);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (b.start + page - 1) & ~(page - 1);
	uintptr_t end = b.end & ~(page - 1);
	if (b.end == 0 || end <= start) {
		*len = 0;
		return NULL;
	}
	*len = end - start;
	return (void *)start;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// writeProtectRelease lets tests take the thread-census path on a machine
// that could write-protect.
var writeProtectRelease = true

// nvmlLibrary names the loaded object ReleaseZeroPages trims.
const nvmlLibrary = "libnvidia-ml.so"

// libraryBSS returns the whole pages of the .bss of the loaded object whose
// path contains name, or nil when no such object is loaded.
func libraryBSS(name string) []byte {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var n C.size_t
	p := C.caravan_find_bss(cname, &n)
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

// ReleaseZeroPages gives back to the kernel the pages of libnvidia-ml's
// static data that hold only zeros, and returns how many bytes it released
// (0 when the library is not loaded).
//
// Why: NVML's Init zeroes its static tables, 12 MB on driver 535, whether
// it finds a GPU or not, and a library whose symbols the executable has
// bound cannot be unloaded. The pages stay resident although they hold
// nothing: on a node without a driver they took the agent from 17 MB to
// 30 MB (agent-rss.sh, slim build).
//
// A page written between its check and its release would lose the write.
// Where the kernel can write-protect the pages (userfaultfd; the agent
// runs as root), a write from any thread, NVML's own included, waits for
// the release and then lands on the fresh zero page, so nothing is lost.
// Elsewhere it falls back on the census of threads taken before Open: if
// NVML has left threads of its own running, it releases nothing and
// returns an error that wraps ErrNVMLThreads. Either way, call it once,
// after Open and before any other goroutine calls NVML. Later writes are
// safe: a released page comes back zero-filled on its next use.
func ReleaseZeroPages(before Threads) (int, error) {
	bss := libraryBSS(nvmlLibrary)
	if len(bss) == 0 {
		return 0, nil
	}
	noWP := fmt.Errorf("%w: turned off", errNoWriteProtect)
	if writeProtectRelease {
		n, err := dropZeroPagesProtected(bss, nil)
		if !errors.Is(err, errNoWriteProtect) {
			return n, err
		}
		noWP = err
	}
	// A thread that has just been joined stays listed for a moment.
	n, ok := before.Started()
	for i := 0; ok && n > 0 && i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		n, ok = before.Started()
	}
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: or so it must be assumed, as the threads could not be counted (%w)", ErrNVMLThreads, noWP)
	case n > 0:
		return 0, fmt.Errorf("%w: %d running (%w)", ErrNVMLThreads, n, noWP)
	}
	return dropZeroPages(bss)
}
