package cli

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Strings that reach a terminal often come from outside: job meta, run
// records, node names, task events, Nomad's error messages, HCL values
// and the file names of a pull request. An ESC or OSC sequence among them
// could retitle the window, hide text, rewrite the screen or, on some
// terminals, write to the clipboard. Text output therefore shows every
// character that could control a terminal as a visible escape; plain
// UTF-8, wide characters included, passes unchanged.

// controlRune reports whether r can control a terminal: C0 controls other
// than tab and newline, DEL, C1 controls (U+0080-U+009F: U+009B is a
// one-character CSI), and the bidirectional embeddings, overrides and
// isolates that reorder what is shown (U+202A-U+202E, U+2066-U+2069).
func controlRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// appendVisible appends s to dst with control characters written as
// escapes: \x1b for a control byte or a byte that is not UTF-8, \u009b
// for a control character beyond ASCII. In a JSON string these escapes
// (\u...) decode to the same character, and JSON output never holds the
// ASCII ones raw, so the filter leaves -json documents meaning the same.
func appendVisible(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if controlRune(rune(c)) {
				dst = fmt.Appendf(dst, `\x%02x`, c)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = fmt.Appendf(dst, `\x%02x`, c)
		case controlRune(r):
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// visible is appendVisible for one string.
func visible(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f {
			return string(appendVisible(make([]byte, 0, len(s)+8), []byte(s)))
		}
	}
	return s
}

// safeWriter is the filter every command's text output goes through
// (cli.Main installs it on Stdout and Stderr): it shows control characters
// as escapes (appendVisible) before they reach w. A character split across
// two writes is held back until it is whole, so plain UTF-8 passes intact.
type safeWriter struct {
	w       io.Writer
	pending []byte // the start of a character cut by the end of a write
	buf     []byte
}

func newSafeWriter(w io.Writer) *safeWriter { return &safeWriter{w: w} }

func (s *safeWriter) Write(p []byte) (int, error) {
	data := p
	if len(s.pending) > 0 {
		data = append(s.pending, p...)
		s.pending = nil
	}
	cut := incompleteTail(data)
	s.buf = appendVisible(s.buf[:0], data[:cut])
	if cut < len(data) {
		s.pending = append([]byte(nil), data[cut:]...)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what a last write left incomplete (as escapes: it never
// became a character).
func (s *safeWriter) Flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	s.buf = appendVisible(s.buf[:0], s.pending)
	s.pending = nil
	_, err := s.w.Write(s.buf)
	return err
}

// incompleteTail is where a UTF-8 sequence that data ends in the middle of
// begins, or len(data) when it ends on a whole character.
func incompleteTail(data []byte) int {
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				return i
			}
			break
		}
	}
	return len(data)
}

// rawOf is the writer beneath a safeWriter, for what caravan itself writes
// with control characters (apply's progress bar) and for asking whether
// output goes to a terminal; any other writer is returned as is.
func rawOf(w io.Writer) io.Writer {
	if s, ok := w.(*safeWriter); ok {
		return s.w
	}
	return w
}
