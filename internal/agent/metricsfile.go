package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Bounds on reading a run's metrics file, so that a run writing garbage,
// or writing fast, costs the agent a fixed amount of memory and CPU.
const (
	// maxMetricLine is the longest line read; longer ones are skipped
	// whole (a line of a dozen metrics is a few hundred bytes).
	maxMetricLine = 4096
	// maxMetricRead is the most read from one file per snapshot. A run
	// that wrote more since the last one has its older lines skipped:
	// the latest values are what a scrape is for.
	maxMetricRead = 256 << 10
	// metricChunk is the read buffer.
	metricChunk = 32 << 10
	// maxMetricName is the longest metric name kept.
	maxMetricName = 64
)

// metricValue is one metric of a line.
type metricValue struct {
	Name  string
	Value float64
}

var errNotObject = errors.New("not a JSON object")

// parseMetricLine reads one line of $CARAVAN_METRICS: a JSON object whose
// number-valued keys are metrics, except "step", which is the line's step.
// Keys that are not numbers (strings, booleans, objects) and names that are
// not metric names are left out; values come sorted by name.
func parseMetricLine(b []byte) (step float64, hasStep bool, vals []metricValue, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return 0, false, nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, false, nil, err
	}
	for k, raw := range m {
		v, ok := jsonNumber(raw)
		if !ok {
			continue
		}
		if k == "step" {
			step, hasStep = v, true
			continue
		}
		if metricNameOK(k) {
			vals = append(vals, metricValue{Name: k, Value: v})
		}
	}
	slices.SortFunc(vals, func(a, b metricValue) int { return strings.Compare(a.Name, b.Name) })
	return step, hasStep, vals, nil
}

// jsonNumber reads a JSON number that fits a float64.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	return v, err == nil
}

// metricNameOK: 1-64 of letters, digits and _ . : / -, which covers the
// names training code uses ("loss", "val/acc", "train.lr") and keeps label
// values and dashboards readable.
func metricNameOK(s string) bool {
	if s == "" || len(s) > maxMetricName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '.', c == ':', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// metricsTail reads the lines appended to a metrics file since the last
// read: only new bytes, whole lines (a partial last line waits for its
// newline), starting over when the file is truncated or replaced.
type metricsTail struct {
	f       *os.File
	off     int64
	partial []byte
	skip    bool // inside a line that is too long, or after a jump: drop up to the next newline
	// What was dropped, for the log: overlong lines and bytes skipped.
	overlong int
	skipped  int64
}

// read calls fn with every complete line added since the last read.
func (t *metricsTail) read(fn func(line []byte)) error {
	fi, err := t.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size < t.off { // truncated: a fresh file
		t.off, t.partial, t.skip = 0, nil, false
	}
	if size-t.off > maxMetricRead {
		t.skipped += size - maxMetricRead - t.off
		t.off, t.partial, t.skip = size-maxMetricRead, nil, true
	}
	if size == t.off {
		return nil
	}
	buf := make([]byte, min(metricChunk, size-t.off))
	for t.off < size {
		n, err := t.f.ReadAt(buf[:min(int64(len(buf)), size-t.off)], t.off)
		t.off += int64(n)
		t.lines(buf[:n], fn)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n == 0 {
			break
		}
	}
	return nil
}

func (t *metricsTail) lines(b []byte, fn func([]byte)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !t.skip {
				t.partial = append(t.partial, b...)
				if len(t.partial) > maxMetricLine {
					t.partial, t.skip = nil, true
					t.overlong++
				}
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if t.skip {
			t.skip = false
			continue
		}
		if len(t.partial) > 0 {
			line = append(t.partial, line...)
			t.partial = t.partial[:0]
		}
		if len(line) > maxMetricLine {
			t.overlong++
			continue
		}
		fn(line)
	}
}

func (t *metricsTail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}
