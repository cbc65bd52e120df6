package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// ErrNoMetric is returned by WriteComparePNG when no run wrote the metric.
var ErrNoMetric = errors.New("no run wrote the metric")

// WriteComparePNG draws one metric of compared runs over their steps, one
// line per run on one plot, labelled with the run and the params that
// tell it apart; the best run's line is drawn thicker.
func WriteComparePNG(w io.Writer, c Comparison, metric string) error {
	p := plot.New()
	p.Title.Text = metric + " by step"
	if c.Best != nil && c.Best.Metric == metric {
		p.Title.Text += fmt.Sprintf(": best %s (%s %s at step %s)", c.Best.Run, c.Best.Goal, FormatValue(c.Best.Value), FormatValue(c.Best.Step))
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = metric
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	drawn := 0
	for i, r := range c.Runs {
		m, ok := r.Series[metric]
		if !ok {
			continue
		}
		pts := make(plotter.XYs, 0, len(m.Step))
		for j := range min(len(m.Step), len(m.Value)) {
			if finite(m.Step[j]) && finite(m.Value[j]) {
				pts = append(pts, plotter.XY{X: m.Step[j], Y: m.Value[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s of run %s: %w", metric, r.ID, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.2)
		if c.Best != nil && c.Best.Run == r.ID && c.Best.Metric == metric {
			l.Width = vg.Points(2.5)
		}
		p.Add(l)
		p.Legend.Add(legendOf(r, c.Varying), l)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("%s: %w (its runs wrote no %s lines to $CARAVAN_METRICS, or no agent read them)", metric, ErrNoMetric, metric)
	}
	wt, err := p.WriterTo(vg.Length(plotWidthPx)*vg.Inch/plotDPI, vg.Length(2*plotPanelHeight)*vg.Inch/plotDPI, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", metric, err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("write PNG of %s: %w", metric, err)
	}
	return nil
}

// legendOf is a run's legend entry: its ID and its varying params.
func legendOf(r ComparedRun, varying []string) string {
	parts := []string{r.ID}
	for _, n := range varying {
		if v, ok := r.Params[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
