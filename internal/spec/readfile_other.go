//go:build !unix

package spec

import "os"

// openReadFlags: outside Unix there are no FIFOs to block an open.
const openReadFlags = os.O_RDONLY
