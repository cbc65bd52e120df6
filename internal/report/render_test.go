package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

// renderCases are the reports the golden files show, one per kind of page.
func renderCases(t *testing.T) map[string]triage.Input {
	t.Helper()
	sixH := 6 * time.Hour
	fa := fixtureAlloc(t)
	leaky := usage(512, 3*time.Hour, func(i int, _ float64) float64 { return 0.55 + 0.3*float64(i%7)/7 },
		func(_ int, t float64) float64 { return 30*gib + 4*gib*t/3600 },
		func(_ int, t float64) float64 { return 2*gib + 4.5*gib*t/3600 })
	leaky.MemLimit = 16 << 30
	return map[string]triage.Input{
		"cuda-oom-fixture": {RunID: "crashy-1", Allocs: []*api.Allocation{fa},
			Record: &record.Run{RunID: "crashy-1", Experiment: "crashy", Pool: "gpu", Namespace: "default", GPUs: 1, PricePerHour: 4, GPUsPerNode: 2},
			Stderr: string(readFixture(t, "get-client-fs-logs-stderr-plain.txt"))},
		"oom-leak": {Record: testRecord(), Usage: leaky,
			Stderr: "epoch 3 step 1200 loss 1.92\nepoch 3 step 1300 loss 1.90\n",
			Allocs: []*api.Allocation{alloc("7c0ffee1-9d2b-4c4e-8e0e-2f8a1b3c4d5e", 10, failed, run, 3*time.Hour, 4, terminated(3*time.Hour, 137, true))}},
		"low-util-success": {Record: testRecord(), Usage: usage(360, sixH, func(i int, _ float64) float64 { return 0.05 + 0.2*float64(i%3) },
			constant(22*gib), constant(5*gib)),
			Allocs: []*api.Allocation{alloc("3a4b5c6d-0000-4000-8000-000000000001", 10, done, run, sixH, 4, terminated(sixH, 0, false))}},
		"running": {Record: testRecord(), Now: t0.Add(2 * time.Hour), Usage: usage(120, 2*time.Hour, constant(0.92), constant(70*gib), constant(8*gib)),
			Allocs: []*api.Allocation{alloc("9f8e7d6c-0000-4000-8000-000000000002", 10, api.AllocClientStatusRunning, run, -1, 4)}},
		"lost-then-xid": {Record: testRecord(),
			Usage: func() *record.Usage {
				u := usage(100, time.Hour, constant(0.9), constant(40*gib), constant(6*gib))
				u.AllocID = "b2"
				u.XIDs = []record.XID{{Time: t0.Add(50 * time.Minute), UUID: "GPU-5d1e", Code: 79}}
				return u
			}(),
			Stderr: "RuntimeError: CUDA error: unspecified launch failure\n",
			Allocs: []*api.Allocation{
				alloc("b2", 20, failed, run, time.Hour, 4, terminated(time.Hour, 1, false)),
				alloc("a1", 10, api.AllocClientStatusLost, stop, 2*time.Hour, 4),
			}},
	}
}

func TestTextGolden(t *testing.T) {
	for name, in := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, triage.Triage(in)); err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(b.String(), "\n") {
				if n := len([]rune(l)); n > textWidth+8 && !strings.HasPrefix(l, "  | ") && !strings.HasPrefix(strings.TrimSpace(l), ">") {
					t.Errorf("line %d is %d runes wide: %q", i+1, n, l)
				}
			}
			golden.Check(t, filepath.Join("testdata", name+".txt.golden"), b.Bytes())
		})
	}
}

func TestJSONGolden(t *testing.T) {
	in := renderCases(t)["oom-leak"]
	b, err := json.MarshalIndent(triage.Triage(in), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "oom-leak.json.golden"), append(b, '\n'))
	// Machines must be able to read it back.
	var back triage.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Reason.Kind != triage.KindOOMKilled || len(back.Leaks) != 2 || !back.Leaks[0].Leaking {
		t.Errorf("round trip lost the diagnosis: %+v", back.Reason)
	}
}

func TestWritePNG(t *testing.T) {
	r := triage.Triage(renderCases(t)["oom-leak"])
	var b bytes.Buffer
	if err := WritePNG(&b, r); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != plotWidthPx || sz.Y != 3*plotPanelHeight {
		t.Errorf("size %v, want %dx%d (three panels)", sz, plotWidthPx, 3*plotPanelHeight)
	}
	// A plot with drawing on it has many colours; a blank canvas has one.
	colours := map[[4]uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 3 {
		for x := 0; x < img.Bounds().Dx(); x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("only %d distinct colours: the plot looks empty", len(colours))
	}
}

func TestWritePNGWithoutTimeline(t *testing.T) {
	r := triage.Triage(triage.Input{RunID: "r", Record: testRecord()})
	if err := WritePNG(&bytes.Buffer{}, r); !errors.Is(err, ErrNoTimeline) {
		t.Errorf("err = %v, want ErrNoTimeline", err)
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		v      []float64
		w      int
		lo, hi float64
		want   string
	}{
		{[]float64{0, 1.0 / 7, 2.0 / 7, 3.0 / 7, 4.0 / 7, 5.0 / 7, 6.0 / 7, 1}, 8, 0, 1, "▁▂▃▄▅▆▇█"},
		{[]float64{0, 0, 1, 0}, 2, 0, 1, "▁█"}, // a spike survives down-sampling
		{[]float64{-5, 50}, 10, 0, 1, "▁█"},    // clamped, never wider than the data
		{nil, 10, 0, 1, ""},
		{[]float64{3, 3}, 2, 3, 3, "▁▁"}, // no span
	}
	for _, tt := range tests {
		if got := Sparkline(tt.v, tt.w, tt.lo, tt.hi); got != tt.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", tt.v, tt.w, got, tt.want)
		}
	}
}

func TestTermLine(t *testing.T) {
	tests := []struct {
		name, in string
		width    int
		want     string
	}{
		{"short", "loss 1.90", 20, "loss 1.90"},
		{"cut with an ellipsis", "abcdefghij", 5, "abcd…"},
		{"runes, not bytes", "ééééé", 5, "ééééé"},
		{"progress bar keeps its last state", "  1%|▏ | 1/100\r 50%|█ | 50/100\r100%|██| 100/100\r\n", 40, "100%|██| 100/100"},
		{"colours dropped", "\x1b[31mERROR\x1b[0m boom", 20, "ERROR boom"},
		{"tabs and control characters", "a\tb\x07c", 20, "a bc"},
	}
	for _, tt := range tests {
		if got := termLine(tt.in, tt.width); got != tt.want {
			t.Errorf("%s: termLine(%q, %d) = %q, want %q", tt.name, tt.in, tt.width, got, tt.want)
		}
	}
}

// TestTextFitsThePage: whatever the task wrote to stderr, no line of the
// text report is wider than the page.
func TestTextFitsThePage(t *testing.T) {
	long := "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.35 GiB total capacity; " +
		"77.12 GiB already allocated; 1.12 GiB free; 77.80 GiB reserved in total by PyTorch) If reserved memory is >> " +
		"allocated memory try setting max_split_size_mb to avoid fragmentation."
	in := renderCases(t)["cuda-oom-fixture"]
	in.Stderr = strings.Repeat("train: 10%|█     | 100/1000 [00:10<01:30, 9.9it/s]\r", 50) + "\n" +
		"\x1b[1m" + strings.Repeat("x", 300) + "\x1b[0m\n" + long + "\n"
	var b bytes.Buffer
	if err := WriteText(&b, triage.Triage(in)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "77.12 GiB already allocated") {
		t.Errorf("the CUDA OOM evidence lost its figures:\n%s", b.String())
	}
	for i, l := range strings.Split(b.String(), "\n") {
		if n := len([]rune(l)); n > textWidth || strings.ContainsAny(l, "\r\x1b") {
			t.Errorf("line %d is %d runes or has control characters: %q", i+1, n, l)
		}
	}
}

// TestTextSaysNoData: a figure the agent had no source for reads "no
// data" in the text, never 0, and a gap in a series is skipped by the plot.
func TestTextSaysNoData(t *testing.T) {
	u, a := rigLeak(1, 20*time.Second)
	r := triage.Triage(triage.Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}})
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GPU util  no data\n", "GPU mem   no data\n", "Host mem  peak 160 MiB of 200 MiB limit\n", "  GPU util  no data\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, bad := range []string{"0%", "Feed the GPU"} {
		if strings.Contains(text.String(), bad) {
			t.Errorf("text has %q for a GPU without data:\n%s", bad, text.String())
		}
	}
	// A gap in a series is not a 0 either: the leak fit and the plots skip it.
	u.Timeline.RSS[2] = math.NaN()
	r = triage.Triage(triage.Input{Record: testRecord(), Usage: u, Allocs: []*api.Allocation{a}})
	var png bytes.Buffer
	if err := WritePNG(&png, r); err != nil {
		t.Fatal(err)
	}
}

// TestTextOfAStalledRun: the text of a stalled run says since when, what
// showed it idle, and the stall_timeout that judged it.
func TestTextOfAStalledRun(t *testing.T) {
	killed := alloc("a1", 10, done, stop, 36*time.Minute, 4,
		ev(api.TaskKilling, 36*time.Minute, "Sent interrupt. Waiting 5s before force killing", nil), terminated(36*time.Minute, 0, false),
		ev(api.TaskKilled, 36*time.Minute, "Task successfully killed", nil))
	for name, in := range map[string]triage.Input{
		"stopped for stalling": {Record: testRecord(), Allocs: []*api.Allocation{killed}, Stall: stalled("a1", true)},
		"still hanging":        {Record: testRecord(), Allocs: []*api.Allocation{alloc("a1", 10, "running", run, -1, 4)}, Stall: stalled("a1", false), Now: t0.Add(40 * time.Minute)},
		"from the outcome": {Record: testRecord(), Outcome: &record.Outcome{State: record.StateStopped, Reason: triage.KindStalled,
			Summary: "stalled since 20:06 UTC after step 3; stopped by the controller", Stall: stalled("a1", true), AllocID: "a1"}},
	} {
		r := triage.Triage(in)
		if r.Reason.Kind != triage.KindStalled {
			t.Fatalf("%s: reason %s, want %s", name, r.Reason.Kind, triage.KindStalled)
		}
		var b bytes.Buffer
		if err := WriteText(&b, r); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"stalled since 20:06 UTC after step 3", "no output since 20:06:00", "stall_timeout (30m)"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: text lacks %q:\n%s", name, want, b.String())
			}
		}
	}
}
