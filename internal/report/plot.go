package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// Plot geometry, in pixels at plotDPI.
const (
	plotDPI         = 96
	plotWidthPx     = 1200
	plotPanelHeight = 300
)

// ErrNoTimeline is returned by WritePNG for a report without a usage
// timeline: there is nothing to draw.
var ErrNoTimeline = errors.New("no usage timeline")

var (
	colUtil  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colMem   = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colRSS   = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	colLeak  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colTrend = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	colLimit = color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}
)

// WritePNG draws r's usage timeline as a PNG: one panel each for GPU
// utilisation, GPU memory and host memory (RSS) over time, stacked on a
// shared time axis, with memory limits and the leak fit line drawn over
// the memory panels.
func WritePNG(w io.Writer, r triage.Report) error {
	tl := r.Timeline
	if tl == nil || len(tl.T) < 2 {
		return fmt.Errorf("run %s: %w to plot (the agent wrote no samples for it; is `caravan agent` running on its node?)", r.RunID, ErrNoTimeline)
	}
	ax := timeAxis{span: tl.T[len(tl.T)-1], unit: "minutes", div: 60}
	if ax.span > 2*3600 {
		ax.unit, ax.div = "hours", 3600
	}
	var panels []*plot.Plot
	if len(tl.GPUUtil) > 0 {
		p := panel("GPU utilisation (%)", ax.unit)
		p.Y.Min, p.Y.Max = 0, 100
		if err := addSeries(p, tl.T, tl.GPUUtil, ax.div, 100, colUtil, ""); err != nil {
			return err
		}
		panels = append(panels, p)
	} else if !r.HasData(record.FigureGPUUtil) {
		panels = append(panels, noDataPanel("GPU utilisation (%)", ax.unit, ax.span/ax.div))
	}
	for _, s := range []memSeries{
		{"GPU memory (GiB)", triage.SeriesGPUMem, record.FigureGPUMem, tl.GPUMem, r.Memory.GPUMemTotal, colMem},
		{"Host memory, RSS (GiB)", triage.SeriesRSS, record.FigureRSS, tl.RSS, r.Memory.MemLimit, colRSS},
	} {
		if len(s.y) == 0 {
			if !r.HasData(s.figure) {
				panels = append(panels, noDataPanel(s.name, ax.unit, ax.span/ax.div))
			}
			continue
		}
		p, err := memoryPanel(r, s, ax)
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return fmt.Errorf("run %s: %w to plot (the timeline has no GPU or memory series)", r.RunID, ErrNoTimeline)
	}
	panels[0].Title.Text = fmt.Sprintf("run %s: %s, %s", r.RunID, r.Outcome, r.Reason.Summary)
	for _, p := range panels[:len(panels)-1] {
		p.X.Label.Text = ""
	}
	if err := writePanels(w, panels); err != nil {
		return fmt.Errorf("write PNG of run %s: %w", r.RunID, err)
	}
	return nil
}

// timeAxis is the shared time axis of the panels: seconds since start
// divided by div, shown in unit, up to span seconds.
type timeAxis struct {
	span float64
	unit string
	div  float64
}

// memSeries is one memory panel: a series of bytes and the limit drawn
// over it.
type memSeries struct {
	name   string
	series string // as in triage.Leak.Series
	figure string // as in triage.Report.HasData
	y      []float64
	limit  int64
	col    color.Color
}

// memoryPanel draws a memory series in GiB with its limit and the fit line
// of its leak check, if any.
func memoryPanel(r triage.Report, s memSeries, ax timeAxis) (*plot.Plot, error) {
	p := panel(s.name, ax.unit)
	p.Y.Min = 0
	const gib = 1 << 30
	if err := addSeries(p, r.Timeline.T, s.y, ax.div, 1.0/gib, s.col, shortSeries(s.series)); err != nil {
		return nil, err
	}
	if s.limit > 0 {
		lim := float64(s.limit) / gib
		if err := addLine(p, 0, lim, ax.span/ax.div, lim, colLimit, []vg.Length{vg.Points(2), vg.Points(3)},
			"limit "+triage.BytesIEC(float64(s.limit))); err != nil {
			return nil, err
		}
	}
	for _, l := range r.Leaks {
		if l.Series != s.series || l.Verdict == triage.VerdictInsufficient {
			continue
		}
		col, label := colTrend, "trend "+signed(l.SlopeMiBPerHour)+"/h, no leak"
		if l.Leaking {
			col, label = colLeak, "leak fit "+signed(l.SlopeMiBPerHour)+"/h"
		}
		y0 := (l.InterceptBytes + l.SlopeBytesPerSecond*l.FitFromS) / gib
		y1 := (l.InterceptBytes + l.SlopeBytesPerSecond*l.FitToS) / gib
		if err := addLine(p, l.FitFromS/ax.div, y0, l.FitToS/ax.div, y1, col, []vg.Length{vg.Points(6), vg.Points(4)}, label); err != nil {
			return nil, err
		}
	}
	// Headroom above the highest line keeps the legend off the data.
	top := float64(s.limit) / gib
	for _, v := range s.y {
		if finite(v) {
			top = max(top, v/gib)
		}
	}
	p.Y.Max = 1.3 * top
	return p, nil
}

// writePanels stacks the panels, aligned on their time axes, into one PNG.
func writePanels(w io.Writer, panels []*plot.Plot) error {
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	img := vgimg.NewWith(vgimg.UseWH(px(plotWidthPx), px(plotPanelHeight*len(panels))), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: vg.Points(6),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}
	_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
	return err
}

// noDataPanel is the panel of a figure the agent had no source for: an
// empty axis that says so, rather than a line at 0.
func noDataPanel(ylabel, unit string, xmax float64) *plot.Plot {
	p := panel(ylabel+": no data", unit)
	if p.X.Max = xmax; xmax <= 0 {
		p.X.Max = 1
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.HideY()
	return p
}

func panel(ylabel, unit string) *plot.Plot {
	p := plot.New()
	p.Y.Label.Text = ylabel
	p.X.Label.Text = "time since start (" + unit + ")"
	p.X.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

// addSeries draws y against t, scaling t by 1/div and y by mul.
func addSeries(p *plot.Plot, t, y []float64, div, mul float64, col color.Color, label string) error {
	n := min(len(t), len(y))
	pts := make(plotter.XYs, 0, n)
	for i := 0; i < n; i++ {
		if finite(t[i]) && finite(y[i]) {
			pts = append(pts, plotter.XY{X: t[i] / div, Y: y[i] * mul})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("plot %s: %w", label, err)
	}
	l.Color = col
	l.Width = vg.Points(1.2)
	p.Add(l)
	if label != "" {
		p.Legend.Add(label, l)
	}
	return nil
}

func addLine(p *plot.Plot, x0, y0, x1, y1 float64, col color.Color, dashes []vg.Length, label string) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y1}})
	if err != nil {
		return fmt.Errorf("plot %s: %w", label, err)
	}
	l.Color = col
	l.Width = vg.Points(1.5)
	l.Dashes = dashes
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// signed writes a MiB figure with its sign, in MiB or GiB.
func signed(m float64) string {
	if m < 0 {
		return "-" + triage.MiB(-m)
	}
	return "+" + triage.MiB(m)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
