package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// A configuration comes from a pull request, so its files are untrusted: a
// committed symlink to /proc/self/environ would otherwise print the CI
// environment in diagnostic snippets, a FIFO would hang the command and a
// link to /dev/zero would exhaust memory. Files are therefore read through
// an os.Root on their directory (symlinks may not leave it), only when they
// are regular files, never past maxFileBytes, and only kept for snippets
// when they are plain UTF-8 text.

// ReadFile reads one HCL file the way Load reads a configuration file: the
// file must be a regular file, a symlink may not lead out of the file's own
// directory, and the size is capped. Commands that read HCL outside Load
// (caravan fmt) use it, then CheckSource, so that they follow the same
// rules. The diagnostics name the file and say how to fix it; a file
// refused here is never echoed.
func ReadFile(path string) ([]byte, hcl.Diagnostics) {
	return readFile(path, "configuration file")
}

// readFile is ReadFile; what names the kind of file in summaries
// ("variables file").
func readFile(path, what string) ([]byte, hcl.Diagnostics) {
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, hcl.Diagnostics{cannotRead(path, what, err)}
	}
	defer root.Close()
	return readInRoot(root, filepath.Base(path), path, what)
}

// readInRoot reads rel inside root; display is the name diagnostics use,
// what the kind of file.
func readInRoot(root *os.Root, rel, display, what string) ([]byte, hcl.Diagnostics) {
	if d := checkRegular(root, rel, display, what); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	f, err := root.OpenFile(rel, openReadFlags, 0)
	if err != nil {
		return nil, hcl.Diagnostics{cannotRead(display, what, err)}
	}
	defer f.Close()
	// The file may have been swapped since checkRegular; what counts is
	// what was opened. O_NONBLOCK (openReadFlags) kept a FIFO from
	// blocking the open itself.
	st, err := f.Stat()
	if err != nil {
		return nil, hcl.Diagnostics{cannotRead(display, what, err)}
	}
	if !st.Mode().IsRegular() {
		return nil, hcl.Diagnostics{notRegular(display, st.Mode())}
	}
	if st.Size() > maxFileBytes {
		return nil, hcl.Diagnostics{tooLarge(display, what, st.Size())}
	}
	// A size of 0 does not prove a file empty (/proc files say 0), so the
	// read is bounded whatever Stat said.
	src, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, hcl.Diagnostics{cannotRead(display, what, err)}
	}
	if len(src) > maxFileBytes {
		return nil, hcl.Diagnostics{tooLarge(display, what, int64(len(src)))}
	}
	return src, nil
}

// CheckSource applies to the contents of an HCL file the limits Load
// applies before parsing: the size cap, plain UTF-8 text, and the nesting
// and expression limits that keep the parser's recursion off the end of
// the stack (guard.go). A file that fails it must be neither parsed nor
// echoed in snippets.
func CheckSource(src []byte, filename string) hcl.Diagnostics {
	if len(src) > maxFileBytes {
		return hcl.Diagnostics{tooLarge(filename, "configuration file", int64(len(src)))}
	}
	if d := checkText(src, filename); d != nil {
		return hcl.Diagnostics{d}
	}
	return checkTokens(src, filename)
}

// MaxFileBytes is the largest HCL file caravan reads (8 MiB).
const MaxFileBytes = maxFileBytes

// checkRegular refuses rel unless it is, or links within root to, a
// regular file.
func checkRegular(root *os.Root, rel, display, what string) *hcl.Diagnostic {
	lst, err := root.Lstat(rel)
	if err != nil {
		return cannotRead(display, what, err)
	}
	st, err := root.Stat(rel)
	if err != nil {
		if lst.Mode()&fs.ModeSymlink != 0 && !errors.Is(err, fs.ErrNotExist) {
			target, _ := root.Readlink(rel)
			return diagErr(fileRange(display), "Symlink leaves the configuration directory",
				"%s is a symlink to %q, which is absolute or outside the directory %q. caravan reads only files inside the directory it is given: copy the file into it, or make the link relative and keep its target inside.",
				display, target, root.Name())
		}
		return cannotRead(display, what, err)
	}
	if !st.Mode().IsRegular() {
		return notRegular(display, st.Mode())
	}
	if st.Size() > maxFileBytes {
		return tooLarge(display, what, st.Size())
	}
	return nil
}

// checkText refuses contents that are not plain text: invalid UTF-8, NUL
// bytes and control characters other than tab, line feed, carriage return
// and form feed. Such a file is not HCL, and echoing it in a snippet could
// print binary data or terminal escape sequences.
func checkText(src []byte, display string) *hcl.Diagnostic {
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		bad := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			bad = fmt.Sprintf("a byte 0x%02x that is not UTF-8", src[i])
		case r == '\n':
			line, col = line+1, 0
		case r == '\t' || r == '\r' || r == '\f':
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			bad = fmt.Sprintf("the control character U+%04X", r)
		}
		if bad != "" {
			return diagErr(fileRange(display), "Not a text file",
				"%s has %s at line %d, column %d. Configuration files must be UTF-8 text; write control characters in strings as escapes such as \"\\u001b\", and keep binary files out of the directory or give them another extension than .hcl.",
				display, bad, line, col)
		}
		i += size
		col++
	}
	return nil
}

func cannotRead(display, what string, err error) *hcl.Diagnostic {
	return diagErr(fileRange(display), "Cannot read "+what,
		"Reading %s failed: %s. Check the path, and that the file exists and is readable.", display, err)
}

func notRegular(display string, mode fs.FileMode) *hcl.Diagnostic {
	return diagErr(fileRange(display), "Not a regular file",
		"%s is %s, not a regular file; caravan reads only regular files. Remove it, or rename it so that its name does not end in .hcl.",
		display, fileKind(mode))
}

func tooLarge(display, what string, size int64) *hcl.Diagnostic {
	return diagErr(fileRange(display), strings.ToUpper(what[:1])+what[1:]+" too large",
		"%s is %d bytes or more; caravan reads files of at most %d bytes (8 MiB). Split it into several files.", display, size, maxFileBytes)
}

// fileKind names a file type for diagnostics.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "a special file"
}
