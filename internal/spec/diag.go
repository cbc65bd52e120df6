package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// diagErr builds an error diagnostic. Every diagnostic caravan reports has a
// subject range, a short summary and a detail that says how to fix it.
func diagErr(rng hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// diagWarn builds a warning diagnostic.
func diagWarn(rng hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	d := diagErr(rng, summary, detail, args...)
	d.Severity = hcl.DiagWarning
	return d
}

// posString is "file:line" for messages that point at a second place.
func posString(rng hcl.Range) string {
	if rng.Start.Line == 0 {
		// Not in a file: a pool published to Nomad by the autoscaler.
		return rng.Filename
	}
	return fmt.Sprintf("%s:%d", rng.Filename, rng.Start.Line)
}

// fileRange is a range covering the start of a file, for diagnostics about
// a whole file (unreadable, too large) or about values from outside any file.
func fileRange(name string) hcl.Range {
	return hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}
