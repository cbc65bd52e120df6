//go:build unix

package spec

import (
	"os"
	"syscall"
)

// openReadFlags opens without blocking: a FIFO swapped in after the type
// check must not hang the open (reads are refused after Stat anyway).
const openReadFlags = os.O_RDONLY | syscall.O_NONBLOCK
