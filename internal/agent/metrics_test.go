package agent

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestParseMetricLine(t *testing.T) {
	tests := []struct {
		line    string
		step    float64
		hasStep bool
		vals    []metricValue
		err     bool
	}{
		{`{"step": 120, "loss": 0.31}`, 120, true, []metricValue{{"loss", 0.31}}, false},
		{`{"val/acc": 0.9, "loss": 1e-3, "lr": -2}`, 0, false, []metricValue{{"loss", 1e-3}, {"lr", -2}, {"val/acc", 0.9}}, false},
		{`  {"loss": 1}  `, 0, false, []metricValue{{"loss", 1}}, false},
		// Not numbers, not names, and numbers beyond float64 are left out.
		{`{"step": "3", "phase": "train", "ok": true, "nested": {"a": 1}, "bad name": 1, "big": 1e400, "x": null}`, 0, false, nil, false},
		{`{"` + strings.Repeat("a", 65) + `": 1, "` + strings.Repeat("b", 64) + `": 2}`, 0, false, []metricValue{{strings.Repeat("b", 64), 2}}, false},
		{`[1, 2]`, 0, false, nil, true},
		{`loss=0.3`, 0, false, nil, true},
		{`{"loss": 0.3`, 0, false, nil, true},
		{``, 0, false, nil, true},
	}
	for _, tt := range tests {
		step, hasStep, vals, err := parseMetricLine([]byte(tt.line))
		if (err != nil) != tt.err || step != tt.step || hasStep != tt.hasStep || !slices.Equal(vals, tt.vals) {
			t.Errorf("parseMetricLine(%q) = %v, %v, %v, %v; want %v, %v, %v, error %v", tt.line, step, hasStep, vals, err, tt.step, tt.hasStep, tt.vals, tt.err)
		}
	}
}

func FuzzParseMetricLine(f *testing.F) {
	for _, s := range []string{`{"step": 120, "loss": 0.31}`, `{"a":1,"a":2}`, `{"x": -0}`, `{}`, `{"step": 1e308}`, "{\"\xff\": 1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		step, hasStep, vals, err := parseMetricLine(b)
		if err != nil {
			if hasStep || vals != nil {
				t.Fatalf("an error with values: %v %v", hasStep, vals)
			}
			return
		}
		if hasStep && (math.IsNaN(step) || math.IsInf(step, 0)) {
			t.Fatalf("step %v", step)
		}
		for i, v := range vals {
			if !metricNameOK(v.Name) || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				t.Fatalf("value %+v", v)
			}
			if i > 0 && vals[i-1].Name >= v.Name {
				t.Fatalf("values not sorted by distinct name: %v", vals)
			}
		}
	})
}

// tailFile is a metrics file and a tail on it, collecting the lines read.
type tailFile struct {
	path  string
	tail  *metricsTail
	lines []string
}

func newTailFile(t *testing.T) *tailFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), record.MetricsFile)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &tailFile{path: path, tail: &metricsTail{f: f}}
}

func (tf *tailFile) write(t *testing.T, s string) {
	t.Helper()
	f, err := os.OpenFile(tf.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func (tf *tailFile) read(t *testing.T) []string {
	t.Helper()
	tf.lines = nil
	if err := tf.tail.read(func(l []byte) { tf.lines = append(tf.lines, string(l)) }); err != nil {
		t.Fatal(err)
	}
	return tf.lines
}

func TestMetricsTailReadsOnlyNewWholeLines(t *testing.T) {
	tf := newTailFile(t)
	tf.write(t, "{\"a\":1}\n{\"a\":")
	if got := tf.read(t); !slices.Equal(got, []string{`{"a":1}`}) {
		t.Errorf("first read %q", got)
	}
	if got := tf.read(t); got != nil {
		t.Errorf("nothing new, read %q", got)
	}
	tf.write(t, "2}\n")
	if got := tf.read(t); !slices.Equal(got, []string{`{"a":2}`}) {
		t.Errorf("the partial line completed: %q", got)
	}
	// Truncated and rewritten, as a run that restarts its log does.
	if err := os.WriteFile(tf.path, []byte("{\"b\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tf.read(t); !slices.Equal(got, []string{`{"b":1}`}) {
		t.Errorf("after truncation: %q", got)
	}
}

func TestMetricsTailBoundsLinesAndReads(t *testing.T) {
	tf := newTailFile(t)
	long := strings.Repeat("x", maxMetricLine+1)
	tf.write(t, long[:100])
	tf.read(t)
	tf.write(t, long[100:]+"\n{\"ok\":1}\n")
	if got := tf.read(t); !slices.Equal(got, []string{`{"ok":1}`}) || tf.tail.overlong != 1 {
		t.Errorf("an overlong line split over reads: read %q, %d overlong", got, tf.tail.overlong)
	}
	if len(tf.tail.partial) != 0 {
		t.Errorf("%d bytes kept after the line ended", len(tf.tail.partial))
	}
	// More than a read's worth at once: the older part is skipped, and
	// reading resumes at a line boundary.
	var b strings.Builder
	for i := 0; b.Len() < 2*maxMetricRead; i++ {
		b.WriteString(`{"step":` + strconv.Itoa(i) + `,"loss":1}` + "\n")
	}
	tf.write(t, b.String())
	got := tf.read(t)
	if tf.tail.skipped == 0 || len(got) == 0 {
		t.Fatalf("skipped %d bytes, read %d lines", tf.tail.skipped, len(got))
	}
	for _, l := range got {
		if _, _, _, err := parseMetricLine([]byte(l)); err != nil {
			t.Fatalf("after a skip, a line read from its middle: %q", l)
		}
	}
	if last := got[len(got)-1]; !strings.HasSuffix(strings.TrimSpace(b.String()), last) {
		t.Errorf("the last line read %q is not the file's last", last)
	}
}

// FuzzMetricsTail: however the writes split the file, the tail reads the
// same lines as reading it whole.
func FuzzMetricsTail(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"a\":2}\n"), uint8(3))
	f.Add([]byte("\n\n{\"a\":1}"), uint8(1))
	f.Fuzz(func(t *testing.T, content []byte, cut uint8) {
		if len(content) > 64<<10 {
			return
		}
		var want []string
		for l := range bytes.SplitSeq(content, []byte("\n")) {
			want = append(want, string(l))
		}
		want = want[:len(want)-1] // the part after the last newline is not a line yet
		want = slices.DeleteFunc(want, func(l string) bool { return len(l) > maxMetricLine })
		tf := newTailFile(t)
		var got []string
		step := int(cut)%17 + 1
		for i := 0; i < len(content); i += step {
			tf.write(t, string(content[i:min(i+step, len(content))]))
			got = append(got, tf.read(t)...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("read %q, want %q", got, want)
		}
	})
}

func TestRunMetricsSeries(t *testing.T) {
	var m runMetrics
	t0 := time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)
	n := 10 * record.MaxMetricPoints
	for i := range n {
		loss := 1 + 1/float64(i+1)
		if i == 7 {
			loss = 0.5 // the best value, on a step that down-sampling averages away
		}
		m.add([]byte(`{"step": `+strconv.Itoa(10*i)+`, "loss": `+strconv.FormatFloat(loss, 'g', -1, 64)+`}`), t0.Add(time.Duration(i)*time.Second))
	}
	m.add([]byte(`{"acc": 0.5}`), t0.Add(time.Duration(n)*time.Second)) // no step: the line number
	ms := m.export(t0)
	if len(ms) != 2 || ms[0].Name != "acc" || ms[1].Name != "loss" {
		t.Fatalf("metrics %v", ms)
	}
	loss := ms[1]
	if len(loss.Step) > record.MaxMetricPoints || len(loss.Step) < record.MaxMetricPoints/2 || len(loss.T) != len(loss.Step) || len(loss.Value) != len(loss.Step) {
		t.Errorf("loss keeps %d steps, %d times, %d values; want at most %d", len(loss.Step), len(loss.T), len(loss.Value), record.MaxMetricPoints)
	}
	if loss.Min != (record.MetricPoint{Step: 70, Value: 0.5}) || loss.Max != (record.MetricPoint{Step: 0, Value: 2}) ||
		loss.Last.Step != float64(10*(n-1)) || loss.Count != n {
		t.Errorf("exact values: min %+v max %+v last %+v count %d", loss.Min, loss.Max, loss.Last, loss.Count)
	}
	if loss.T[0] < 0 || loss.T[len(loss.T)-1] > float64(n) || loss.Step[0] >= loss.Step[len(loss.Step)-1] {
		t.Errorf("axes: t %v … %v, steps %v … %v", loss.T[0], loss.T[len(loss.T)-1], loss.Step[0], loss.Step[len(loss.Step)-1])
	}
	if acc := ms[0]; acc.Last.Step != float64(n+1) {
		t.Errorf("a line without a step has its line number: %+v", acc.Last)
	}
	if lat := m.latest(); len(lat) != 2 || lat[1].Name != "loss" || lat[1].Value != 1+1/float64(n) {
		t.Errorf("latest %+v", lat)
	}
}

func TestRunMetricsBoundNames(t *testing.T) {
	var m runMetrics
	for i := range 2 * record.MaxMetrics {
		m.add([]byte(`{"m`+strconv.Itoa(1000+i)+`": 1}`), time.Time{})
	}
	if len(m.byName) != record.MaxMetrics || m.dropped != record.MaxMetrics {
		t.Errorf("%d names kept, %d values dropped; want %d and %d", len(m.byName), m.dropped, record.MaxMetrics, record.MaxMetrics)
	}
}

// TestAgentReadsRunMetrics: the agent finds the file a run writes through
// the task's CARAVAN_METRICS, exports the latest values, and keeps the
// series in the usage summary, with the lines written just before the end.
func TestAgentReadsRunMetrics(t *testing.T) {
	n := newRawExecNode(t)
	allocDir := filepath.Join(t.TempDir(), "alloc")
	file := filepath.Join(allocDir, allocA, "alloc", record.MetricsFile)
	files(t, n.proc, map[string]string{"4242/environ": "NOMAD_ALLOC_ID=" + allocA + "\x00" + record.MetricsEnv + "=" + file + "\x00", "4242/cgroup": "0::/\n"})
	if err := os.Symlink("/", filepath.Join(n.proc, "4242", "root")); err != nil {
		t.Fatal(err)
	}
	files(t, filepath.Dir(file), map[string]string{record.MetricsFile: `{"step": 1, "loss": 2.5}` + "\n" + `{"step": 2, "loss": 1.5, "lr": 0.1}` + "\n"})
	text := n.scrape(t)
	wantLines(t, text,
		`caravan_run_metric{alloc="`+allocA+`",experiment="resnet50",name="loss",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"} 1.5`,
		`caravan_run_metric{alloc="`+allocA+`",experiment="resnet50",name="lr",node="gpu-node-1",pool="gpu",run="resnet50-1a2b3c4d"} 0.1`,
		`caravan_run_metric_step{`+runALabels+`} 2`)

	s := NewSampler(n.agent, n.nomad, 5*time.Second, time.Hour)
	s.Sample(context.Background())
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"step": 3, "loss": 0.5}` + "\n")
	f.Close()
	n.clock.Advance(5 * time.Second)
	n.nomad.setStatus(allocA, "complete")
	s.Sample(context.Background())
	last := n.nomad.usage[len(n.nomad.usage)-1]
	if !last.Final || len(last.Metrics) != 2 {
		t.Fatalf("final usage: final %v, metrics %+v", last.Final, last.Metrics)
	}
	loss := last.Metrics[0]
	if loss.Name != "loss" || loss.Last != (record.MetricPoint{Step: 3, Value: 0.5}) || loss.Count != 3 || loss.Min.Value != 0.5 {
		t.Errorf("loss in the final usage: %+v; want the line written after the last sample too", loss)
	}
}
