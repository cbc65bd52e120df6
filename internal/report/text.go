package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// noData stands where a figure had no source: the agent could not measure
// it (GPUs that report no utilisation), which is not the same as 0.
const noData = "no data"

// textWidth is the page width of the text report; sparklineWidth the
// number of columns a timeline gets in it.
const (
	textWidth      = 80
	sparklineWidth = 48
)

// WriteText writes r as one page for a person: the diagnosis first, then
// the facts behind it, then what else is worth knowing.
func WriteText(w io.Writer, r triage.Report) error {
	var b strings.Builder
	writeHeader(&b, r)
	writeReason(&b, r)
	writeFacts(&b, r)
	writeUse(&b, r)
	writeMoves(&b, r)
	writeLeaks(&b, r)
	writeAlsoFound(&b, r)
	writeTail(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeader names the run and what it belongs to.
func writeHeader(b *strings.Builder, r triage.Report) {
	fmt.Fprintf(b, "Run %s\n", r.RunID)
	var ctx []string
	for _, kv := range [][2]string{{"experiment", r.Experiment}, {"pool", r.Pool}, {"job", r.JobID}, {"namespace", r.Namespace}} {
		if kv[1] != "" {
			ctx = append(ctx, kv[0]+" "+kv[1])
		}
	}
	if len(ctx) > 0 {
		fmt.Fprintf(b, "%s\n", strings.Join(ctx, " · "))
	}
	b.WriteString("\n")
}

// writeReason writes how the run ended and why, with its evidence and what
// to do.
func writeReason(b *strings.Builder, r triage.Report) {
	head := strings.ToUpper(r.Outcome) + ": " + r.Reason.Summary
	if r.ExitCode != nil && r.Reason.Kind != triage.KindRunning {
		head += fmt.Sprintf(" (exit code %d)", *r.ExitCode)
	}
	b.WriteString(hang(head, "", "  ", textWidth))
	for _, e := range r.Reason.Evidence {
		// Evidence is wrapped, not cut: "Tried to allocate 2 GiB; 79 GiB
		// total" is the point of a CUDA OOM line. Three lines at most.
		b.WriteString(hang("> "+termLine(e, 3*(textWidth-6)), "  ", "    ", textWidth))
	}
	if r.Reason.Advice != "" {
		b.WriteString(wrap("What to do: "+r.Reason.Advice, "  ", textWidth))
	}
	b.WriteString("\n")
}

// writeFacts writes where and how long the run ran and the GPUs it held.
func writeFacts(b *strings.Builder, r triage.Report) {
	if a := r.Alloc; a != nil {
		line := fmt.Sprintf("attempt %d of %d · alloc %s", r.Attempts, r.Attempts, triage.ShortID(a.ID))
		if a.Task != "" {
			line += " · task " + a.Task
		}
		if a.Node != "" || a.NodeID != "" {
			line += " on " + firstNonEmpty(a.Node, triage.ShortID(a.NodeID))
		}
		fmt.Fprintf(b, "%-10s%s\n", "Alloc", line)
	}
	if r.StartedAt != nil {
		fmt.Fprintf(b, "%-10s%s\n", "Ran", ranLine(r))
	}
	if r.GPUs > 0 || r.GPUHours > 0 {
		line := fmt.Sprintf("%d · %s GPU-hours", r.GPUs, triage.Hours(r.GPUHours))
		if r.Attempts > 1 {
			line += " over all attempts"
		}
		if r.Cost != nil {
			line += fmt.Sprintf(" · cost %.2f at %.2f per GPU-hour", *r.Cost, r.PricePerGPUHour)
		}
		fmt.Fprintf(b, "%-10s%s\n", "GPUs", line)
	}
}

// ranLine is how long a run that started has run, from when to when, and
// its timeout.
func ranLine(r triage.Report) string {
	start := r.StartedAt.UTC()
	line := fmt.Sprintf("%s so far, since %s", triage.Human(seconds(r.RuntimeS)), start.Format("2006-01-02 15:04:05 UTC"))
	if r.FinishedAt != nil {
		end, layout := r.FinishedAt.UTC(), "15:04:05 UTC"
		if end.YearDay() != start.YearDay() || end.Year() != start.Year() {
			layout = "2006-01-02 15:04:05 UTC"
		}
		line = fmt.Sprintf("%s, %s → %s", triage.Human(seconds(r.RuntimeS)), start.Format("2006-01-02 15:04:05"), end.Format(layout))
	}
	if r.TimeoutS > 0 {
		line += " · timeout " + triage.Human(seconds(r.TimeoutS))
	}
	return line
}

// writeLeaks writes each memory series that grew, with its leak finding's
// advice under its numbers.
func writeLeaks(b *strings.Builder, r triage.Report) {
	if len(r.Leaks) == 0 {
		return
	}
	b.WriteString("\nMemory growth\n")
	for _, l := range r.Leaks {
		fmt.Fprintf(b, "  %-9s %s\n", shortSeries(l.Series), leakLine(l))
		for _, f := range r.Findings {
			if f.Kind == triage.KindLeak && strings.HasPrefix(f.Summary, triage.SeriesName(l.Series)) && f.Advice != "" {
				b.WriteString(wrap(f.Advice, "            ", textWidth))
			}
		}
	}
}

// writeAlsoFound writes the findings beside the reason (the leak findings
// only where writeLeaks had no series to put them under) and the warnings.
func writeAlsoFound(b *strings.Builder, r triage.Report) {
	var others []triage.Finding
	for _, f := range r.Findings {
		if f.Kind != triage.KindLeak || len(r.Leaks) == 0 {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		b.WriteString("\nAlso found\n")
		for _, f := range others {
			b.WriteString(hang("! "+f.Summary, "  ", "    ", textWidth))
			for _, e := range f.Evidence {
				b.WriteString(hang("> "+termLine(e, 3*(textWidth-8)), "    ", "      ", textWidth))
			}
			if f.Advice != "" {
				b.WriteString(wrap(f.Advice, "    ", textWidth))
			}
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings\n")
		for _, w := range r.Warnings {
			b.WriteString(hang("- "+w, "  ", "    ", textWidth))
		}
	}
}

// writeTail writes the end of the run's stderr.
func writeTail(b *strings.Builder, r triage.Report) {
	if len(r.StderrTail) == 0 {
		return
	}
	b.WriteString("\nEnd of stderr\n")
	// Cut, not wrapped: wrapping would lose a traceback's indentation,
	// and the reason's evidence above already shows the telling line whole.
	for _, l := range r.StderrTail {
		fmt.Fprintf(b, "  | %s\n", termLine(l, textWidth-4))
	}
}

// writeUse writes the run's utilisation and memory figures and their
// timeline; a figure without data says so.
func writeUse(b *strings.Builder, r triage.Report) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	switch u := r.Util; {
	case u != nil:
		p("%-10smean %.0f%% · peak %.0f%%\n", "GPU util", 100*u.Mean, 100*u.Peak)
	case !r.HasData(record.FigureGPUUtil):
		p("%-10s%s\n", "GPU util", noData)
	}
	switch m := r.Memory; {
	case m.GPUMemPeak > 0:
		p("%-10speak %s%s\n", "GPU mem", triage.BytesIEC(float64(m.GPUMemPeak)), ofLimit(m.GPUMemTotal, ""))
	case !r.HasData(record.FigureGPUMem):
		p("%-10s%s\n", "GPU mem", noData)
	}
	switch m := r.Memory; {
	case m.RSSPeak > 0:
		p("%-10speak %s%s\n", "Host mem", triage.BytesIEC(float64(m.RSSPeak)), ofLimit(m.MemLimit, " limit"))
	case !r.HasData(record.FigureRSS) && m.MemLimit > 0:
		p("%-10s%s · limit %s\n", "Host mem", noData, triage.BytesIEC(float64(m.MemLimit)))
	case !r.HasData(record.FigureRSS):
		p("%-10s%s\n", "Host mem", noData)
	case m.MemLimit > 0:
		p("%-10slimit %s\n", "Host mem", triage.BytesIEC(float64(m.MemLimit)))
	}

	if tl := r.Timeline; tl != nil && len(tl.T) > 1 {
		p("\nTimeline, 0 → %s\n", triage.Human(seconds(tl.T[len(tl.T)-1])))
		if len(tl.GPUUtil) > 0 {
			p("  %-9s %s  0–100%%\n", "GPU util", Sparkline(tl.GPUUtil, sparklineWidth, 0, 1))
		} else if !r.HasData(record.FigureGPUUtil) {
			p("  %-9s %s\n", "GPU util", noData)
		}
		if len(tl.GPUMem) > 0 {
			hi := scaleTop(tl.GPUMem, r.Memory.GPUMemTotal)
			p("  %-9s %s  0–%s\n", "GPU mem", Sparkline(tl.GPUMem, sparklineWidth, 0, hi), triage.BytesIEC(hi))
		} else if !r.HasData(record.FigureGPUMem) {
			p("  %-9s %s\n", "GPU mem", noData)
		}
		if len(tl.RSS) > 0 {
			hi := scaleTop(tl.RSS, r.Memory.MemLimit)
			p("  %-9s %s  0–%s\n", "Host mem", Sparkline(tl.RSS, sparklineWidth, 0, hi), triage.BytesIEC(hi))
		} else if !r.HasData(record.FigureRSS) {
			p("  %-9s %s\n", "Host mem", noData)
		}
	}
}

// leakLine is a Leak's verdict with the figures that support it.
func leakLine(l triage.Leak) string {
	switch l.Verdict {
	case triage.VerdictInsufficient:
		return "not enough samples to judge"
	case triage.VerdictLeak:
		s := fmt.Sprintf("LEAK +%s/h (R² %.2f, trend z %.0f)", triage.MiB(l.SlopeMiBPerHour), l.R2, l.MannKendallZ)
		if l.TimeToLimitS != nil {
			if *l.TimeToLimitS == 0 {
				s += ", at its limit"
			} else {
				s += ", hits " + triage.BytesIEC(l.LimitBytes) + " in ~" + triage.Human(seconds(*l.TimeToLimitS))
			}
		}
		return s
	case triage.VerdictGrowing:
		return fmt.Sprintf("grew %s in a step or early ramp, not steadily: no leak", triage.BytesIEC(l.GrowthBytes))
	}
	if l.MannKendallZ >= triage.MinMKZ && l.SlopeMiBPerHour > 0 {
		return fmt.Sprintf("slight drift (%+.0f MiB/h), too small to matter: no leak", l.SlopeMiBPerHour)
	}
	return fmt.Sprintf("flat (%+.0f MiB/h): no leak", l.SlopeMiBPerHour)
}

func shortSeries(s string) string {
	switch s {
	case triage.SeriesRSS:
		return "Host mem"
	case triage.SeriesGPUMem:
		return "GPU mem"
	}
	return s
}

func ofLimit(limit int64, word string) string {
	if limit <= 0 {
		return ""
	}
	return " of " + triage.BytesIEC(float64(limit)) + word
}

// scaleTop is the top of a memory sparkline's scale: the limit when known,
// so that the line shows how close the run came to it.
func scaleTop(v []float64, limit int64) float64 {
	hi := float64(limit)
	for _, x := range v {
		if finite(x) {
			hi = max(hi, x)
		}
	}
	return hi
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
