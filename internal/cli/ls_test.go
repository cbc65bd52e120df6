package cli

import (
	"bytes"
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
			writeRunTable(&b, rows, now)
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
