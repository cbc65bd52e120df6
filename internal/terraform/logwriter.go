package terraform

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// lineLogger is an io.Writer that logs each complete line Terraform writes
// as one record, so that Terraform's output lands in caravan's structured
// log with the pool attached instead of on a terminal nobody watches.
type lineLogger struct {
	mu     sync.Mutex
	log    *slog.Logger
	level  slog.Level
	stream string
	buf    bytes.Buffer
	// tail keeps the last lines for error messages.
	tail []string
}

const tailLines = 20

func newLineLogger(log *slog.Logger, level slog.Level, stream string) *lineLogger {
	return &lineLogger{log: log, level: level, stream: stream}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			// Incomplete line: keep it for the next write.
			l.buf.Reset()
			l.buf.WriteString(line)
			break
		}
		l.emit(strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

func (l *lineLogger) emit(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	l.tail = append(l.tail, line)
	if len(l.tail) > tailLines {
		l.tail = l.tail[len(l.tail)-tailLines:]
	}
	lvl := l.level
	// The summary lines are what an operator wants without debug logs.
	if lvl < slog.LevelInfo && isSummary(line) {
		lvl = slog.LevelInfo
	}
	l.log.Log(context.Background(), lvl, "terraform", "stream", l.stream, "line", line)
}

// Flush logs a trailing line without newline.
func (l *lineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.emit(l.buf.String())
		l.buf.Reset()
	}
}

// Tail returns the last lines written and forgets them.
func (l *lineLogger) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tail
	l.tail = nil
	return t
}

func isSummary(line string) bool {
	return strings.HasPrefix(line, "Plan:") || strings.HasPrefix(line, "Apply complete!") ||
		strings.HasPrefix(line, "No changes.") || strings.HasPrefix(line, "Error:")
}
