package plan

import (
	"fmt"
	"io"
	"strings"
)

// listLimit bounds how many unchanged or finished runs a text plan names
// per experiment before it only counts them: creations are always listed,
// history is summarised.
const listLimit = 10

// SummaryLine is the plan's one-line verdict, Terraform style.
func (c Counts) SummaryLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %d to create, %d unchanged", c.Create, c.Unchanged)
	fmt.Fprintf(&b, ", %d no longer declared", c.Removed)
	if c.RemovedActive > 0 {
		fmt.Fprintf(&b, " (%d still active: apply -prune stops them)", c.RemovedActive)
	}
	b.WriteString(".")
	return b.String()
}

// WriteText prints the plan for a terminal or a CI log.
func WriteText(w io.Writer, p *RunPlan) error {
	ew := &errWriter{w: w}
	c := p.Counts()
	if p.Project != "" {
		ew.printf("project %q\n\n", p.Project)
	}
	if len(p.Experiments) == 0 {
		ew.printf("No runs declared and none in Nomad.\n\n")
	}
	for _, e := range p.Experiments {
		ew.printf("experiment %q: %d to create, %d unchanged, %d no longer declared\n", e.Name, len(e.Create), len(e.Unchanged), len(e.Removed))
		for _, ch := range e.Create {
			ew.printf("  + %s  %s\n", ch.ID, ch.Summary.Text())
		}
		writeRefs(ew, "=", e.Unchanged, "unchanged", func(r RunRef) string { return statusText(r) })
		var active, finished []RunRef
		for _, r := range e.Removed {
			if r.Active {
				active = append(active, r)
			} else {
				finished = append(finished, r)
			}
		}
		for _, r := range active {
			ew.printf("  - %s  no longer declared, %s: apply -prune stops it\n", r.ID, statusText(r))
		}
		writeRefs(ew, "-", finished, "no longer declared, finished (history, kept)", func(r RunRef) string {
			return "no longer declared, " + statusText(r) + " (history, kept)"
		})
		ew.printf("\n")
	}
	if !c.HasChanges() {
		ew.printf("No changes: Nomad already has every declared run.\n")
	}
	ew.printf("%s\n", c.SummaryLine())
	return ew.err
}

func writeRefs(ew *errWriter, mark string, refs []RunRef, many string, line func(RunRef) string) {
	if len(refs) > listLimit {
		ew.printf("  %s %d runs %s\n", mark, len(refs), many)
		return
	}
	for _, r := range refs {
		ew.printf("  %s %s  %s\n", mark, r.ID, line(r))
	}
}

func statusText(r RunRef) string {
	if r.Wait != "" {
		return r.Wait
	}
	if r.Status == "" {
		return "job garbage-collected, record kept"
	}
	return "job " + r.Status
}

// Text is a run summary on one line: pool, GPUs, image or driver, params.
func (s Summary) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool=%s gpus=%d", s.Pool, s.GPUs)
	switch {
	case s.Image != "":
		fmt.Fprintf(&b, " image=%s", s.ImageText())
	case s.Driver != "":
		fmt.Fprintf(&b, " driver=%s", s.Driver)
	}
	if p := s.ParamsText(); p != "" {
		b.WriteString("  ")
		b.WriteString(p)
	}
	return b.String()
}

// ImageText is the image as declared and, when pinned, the start of the
// digest apply submits it by: "ghcr.io/acme/train:1.4 (sha256:0123456789ab)".
func (s Summary) ImageText() string {
	if s.Digest == "" || strings.Contains(s.Image, "@") {
		return s.Image
	}
	d := s.Digest
	if len(d) > len("sha256:")+12 {
		d = d[:len("sha256:")+12]
	}
	return s.Image + " (" + d + ")"
}

// ParamsText is "name=value name=value" in param order.
func (s Summary) ParamsText() string {
	parts := make([]string, len(s.Params))
	for i, p := range s.Params {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, " ")
}

// maxMarkdownRuns caps the runs listed per experiment in a Markdown plan:
// a sweep of thousands of runs would exceed what a pull-request comment
// may hold (GitHub refuses bodies over 65,536 characters), and the counts
// table above already says how many there are.
const maxMarkdownRuns = 100

// WriteMarkdown prints the plan as a pull-request comment: the verdict,
// a table per experiment, and the runs to create in a collapsed list.
func WriteMarkdown(w io.Writer, p *RunPlan) error {
	ew := &errWriter{w: w}
	c := p.Counts()
	title := "caravan plan"
	if p.Project != "" {
		title += " of project `" + p.Project + "`"
	}
	ew.printf("### %s\n\n**%s**\n\n", title, c.SummaryLine())
	if len(p.Experiments) == 0 {
		ew.printf("No runs declared and none in Nomad.\n")
		return ew.err
	}
	ew.printf("| experiment | to create | unchanged | no longer declared | still active |\n")
	ew.printf("| --- | ---: | ---: | ---: | ---: |\n")
	for _, e := range p.Experiments {
		active := 0
		for _, r := range e.Removed {
			if r.Active {
				active++
			}
		}
		ew.printf("| `%s` | %d | %d | %d | %d |\n", e.Name, len(e.Create), len(e.Unchanged), len(e.Removed), active)
	}
	for _, e := range p.Experiments {
		if len(e.Create) == 0 {
			continue
		}
		ew.printf("\n<details><summary><code>%s</code>: %d to create</summary>\n\n", e.Name, len(e.Create))
		ew.printf("| run | pool | GPUs | image | params |\n| --- | --- | ---: | --- | --- |\n")
		for i, ch := range e.Create {
			if i == maxMarkdownRuns {
				ew.printf("\n… and %d more; `caravan plan` lists them all.\n", len(e.Create)-i)
				break
			}
			img := ch.Summary.ImageText()
			if img == "" {
				img = ch.Summary.Driver
			}
			ew.printf("| `%s` | %s | %d | %s | %s |\n", ch.ID, mdEscape(ch.Summary.Pool), ch.Summary.GPUs, mdEscape(img), mdEscape(ch.Summary.ParamsText()))
		}
		ew.printf("\n</details>\n")
	}
	for _, e := range p.Experiments {
		for _, r := range e.Removed {
			if r.Active {
				ew.printf("\n- `%s` is no longer declared and still %s: `caravan apply -prune` stops it.", r.ID, r.Status)
			}
		}
	}
	ew.printf("\n")
	return ew.err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// errWriter keeps the first write error so that renderers stay linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, a...)
}
