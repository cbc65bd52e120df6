package terraform

import (
	"fmt"
	"strings"
)

// fail wraps a Terraform error with the pool, the step and Terraform's own
// words, condensed to one line for logs and the pool record.
func (w *Workspace) fail(step string, err error, errw *lineLogger) error {
	_ = errw.Tail()
	return &Error{Pool: w.opts.Pool, Step: step, Dir: w.dir, Reason: condense(err.Error()), Err: err}
}

// Error is a failed Terraform step.
type Error struct {
	Pool, Step, Dir string
	// Reason is Terraform's error message on one line.
	Reason string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("terraform %s of pool %q failed: %s (workdir %s)", e.Step, e.Pool, e.Reason, e.Dir)
}

// Unwrap gives the terraform-exec error (context errors included).
func (e *Error) Unwrap() error { return e.Err }

// condense turns Terraform's boxed multi-line diagnostics into one line:
// the "Error:" summaries and their details, without decoration.
func condense(text string) string {
	var parts []string
	inErr := false
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(raw), "│╷╵"))
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "Error:"):
			inErr = true
			parts = append(parts, line)
		case strings.HasPrefix(line, "Warning:"):
			inErr = false
		case inErr && !strings.HasPrefix(line, "with ") && !strings.HasPrefix(line, "on ") && !isSnippet(line):
			parts = append(parts, line)
		}
	}
	if len(parts) == 0 {
		first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
		return first
	}
	out := strings.Join(parts, " ")
	if len(out) > 600 {
		out = out[:600] + "..."
	}
	return out
}

// isSnippet recognises the source lines Terraform quotes ("20:   provisioner").
func isSnippet(line string) bool {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && i < len(line) && line[i] == ':'
}

// needsInit recognises Terraform's request to run init again.
func needsInit(err error) bool {
	m := err.Error()
	return strings.Contains(m, "terraform init") || strings.Contains(m, "Module not installed") ||
		strings.Contains(m, "Inconsistent dependency lock file")
}
