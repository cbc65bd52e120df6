package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestRunTableFits80Columns(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	params := []record.Param{{Name: "lr", Value: "0.001"}, {Name: "batch_size", Value: "256"}, {Name: "optimizer", Value: "adamw"}}
	tests := []struct {
		name, experiment string
		wantExpColumn    bool
	}{
		{"short", "train", true},
		{"medium", "resnet50-imagenet", true},
		{"long", "resnet50-imagenet-ablation-study", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.experiment + "-0123abcd"
			rows := []query.Run{{
				ID: id, Experiment: tt.experiment, State: record.StateStarting, Pool: "gpu-a100-spot", GPUs: 8,
				Submitted: now.Add(-50 * time.Hour), Started: now.Add(-49 * time.Hour), Params: params,
			}}
			var b bytes.Buffer
			tb, err := newLsTable(rows, defaultColumns, lsWidth, now)
			if err != nil {
				t.Fatal(err)
			}
			tb.write(&b, rows)
			lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("table:\n%s", b.String())
			}
			for _, l := range lines {
				if len(l) > lsWidth {
					t.Errorf("line of %d columns, want at most %d: %q", len(l), lsWidth, l)
				}
			}
			if !strings.HasPrefix(lines[1], id+" ") {
				t.Errorf("ID shortened: %q", lines[1])
			}
			if got := strings.Contains(lines[0], "EXPERIMENT"); got != tt.wantExpColumn {
				t.Errorf("EXPERIMENT column shown = %v, want %v:\n%s", got, tt.wantExpColumn, b.String())
			}
			if !strings.Contains(lines[1], "starting") || !strings.Contains(lines[1], " lr") {
				t.Errorf("row lacks state or params: %q", lines[1])
			}
		})
	}
}

// sweepRows are four runs of a sweep over lr with many params every run
// shares, as the user had.
func sweepRows(now time.Time) []query.Run {
	var rows []query.Run
	for i, lr := range []string{"0.1", "0.01", "0.001", "0.0001"} {
		rows = append(rows, query.Run{ID: fmt.Sprintf("finetune-0000000%d", i), Experiment: "finetune", State: record.StateComplete,
			Pool: "gpu", GPUs: 1, Priority: 50 + i, Submitted: now.Add(-time.Duration(i+1) * time.Hour),
			Params: []record.Param{{Name: "batch", Value: "256"}, {Name: "epochs", Value: "10"}, {Name: "lr", Value: lr},
				{Name: "model", Value: "resnet50"}, {Name: "optimizer", Value: "adamw"}, {Name: "seed", Value: "1"}}})
	}
	return rows
}

// TestRunTableKeepsTheSweptParam: at 80 columns the param that differs
// between the runs comes first and survives the cut; with COLUMNS=200
// every param shows; PRIO shows each run's priority.
func TestRunTableKeepsTheSweptParam(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rows := sweepRows(now)
	for _, width := range []int{80, 200} {
		tb, err := newLsTable(rows, defaultColumns, width, now)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		tb.write(&b, rows)
		lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		for i, l := range lines {
			if len(l) > width {
				t.Errorf("width %d: line of %d columns: %q", width, len(l), l)
			}
			if i > 0 && !strings.Contains(l, "PARAMS") && !strings.Contains(l, " lr="+rows[i-1].Params[2].Value) {
				t.Errorf("width %d: the swept lr is gone: %q", width, l)
			}
			if i > 0 && !strings.Contains(l, fmt.Sprintf(" %d ", 50+i-1)) {
				t.Errorf("width %d: no priority: %q", width, l)
			}
		}
		if width == 200 && !strings.Contains(lines[1], "seed=1") {
			t.Errorf("a wide terminal cuts the params: %q", lines[1])
		}
	}
}

// TestLsSortAndColumns: -sort orders by a param (numerically), a field or
// a metric (best first by its goal), -NAME reverses; -columns picks
// params and metrics by name.
func TestLsSortAndColumns(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ids := func(rows []query.Run) string {
		var out []string
		for _, r := range rows {
			out = append(out, r.ID[len(r.ID)-1:])
		}
		return strings.Join(out, "")
	}
	loss := func(v float64) *record.Usage {
		return &record.Usage{Metrics: []record.Metric{{Name: "loss", Count: 1, Last: record.MetricPoint{Step: 1, Value: v}}}}
	}
	usages := map[string]*record.Usage{"finetune-00000000": loss(0.5), "finetune-00000001": loss(0.2), "finetune-00000003": loss(0.9)}
	for _, tc := range []struct{ key, want string }{
		{"lr", "3210"}, {"-lr", "0123"}, {"priority", "0123"}, {"-priority", "3210"}, {"age", "0123"},
		{"loss", "1032"}, {"-loss", "3012"}, {"metric:loss", "1032"},
	} {
		rows := sweepRows(now)
		tb, _ := newLsTable(rows, defaultColumns, 80, now)
		tb.usages = usages
		if err := sortRows(rows, tc.key, tb, nil); err != nil {
			t.Fatal(err)
		}
		if got := ids(rows); got != tc.want {
			t.Errorf("-sort %s: %s, want %s", tc.key, got, tc.want)
		}
	}
	rows := sweepRows(now)
	if err := sortRows(rows, "loss", &lsTable{usages: usages}, map[string]string{"loss": "max"}); err != nil || ids(rows) != "3012" {
		t.Errorf("-best loss=max: %s", ids(rows))
	}
	tb, err := newLsTable(rows, []string{"id", "lr", "loss", "priority"}, 80, now)
	if err != nil {
		t.Fatal(err)
	}
	tb.usages = usages
	var b bytes.Buffer
	tb.write(&b, rows)
	want := "ID                lr     loss PRIO\nfinetune-00000003 0.0001  0.9   53\nfinetune-00000000 0.1     0.5   50\n"
	if !strings.HasPrefix(b.String(), want) || !strings.Contains(b.String(), "finetune-00000002 0.001     -   52") {
		t.Errorf("-columns id,lr,loss,priority:\n%s", b.String())
	}
}
