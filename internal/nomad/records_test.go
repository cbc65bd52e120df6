package nomad_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestRecordRoundTripAndCreateOnce(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	rec := &record.Run{RunID: "resnet-0123abcd", Experiment: "resnet", Pool: "a100", GPUs: 2,
		Params: map[string]any{"lr": 0.001}, Spec: json.RawMessage(`{"image":"x"}`), Job: json.RawMessage(`{"ID":"resnet-0123abcd"}`),
		Config: record.ConfigProvenance{Dir: "exp", Commit: "abc", Dirty: true}, SubmittedAt: time.Unix(1700000000, 0).UTC()}
	if err := c.CreateRecord(ctx, "", rec); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRecord(ctx, "", rec); !errors.Is(err, nomad.ErrConflict) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create: %v, want ErrConflict saying it already exists", err)
	}
	got, idx, err := c.Record(ctx, record.Ref{RunID: rec.RunID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Experiment != "resnet" || got.Params["lr"] != 0.001 || !got.Config.Dirty || string(got.Spec) != `{"image":"x"}` || idx == 0 {
		t.Fatalf("record = %+v idx %d", got, idx)
	}
	got.RerunOf = "other"
	newIdx, err := c.PutRecord(ctx, "", got, int64(idx))
	if err != nil {
		t.Fatal(err)
	}
	if again, stored, err := c.Record(ctx, record.Ref{RunID: rec.RunID}); err != nil || stored != newIdx || newIdx <= idx || again.RerunOf != "other" {
		t.Fatalf("after PutRecord: record %+v index %d (PutRecord said %d, was %d), %v", again, stored, newIdx, idx, err)
	}
	if _, err := c.PutRecord(ctx, "", got, int64(idx)); !errors.Is(err, nomad.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("expected modify index %d, found %d", idx, newIdx)) {
		t.Fatalf("stale cas: %v, want ErrConflict naming both indexes", err)
	}
	refs, err := c.RecordRefs(ctx, "", nomad.RecordScope{})
	if err != nil || len(refs) != 1 || refs[0].RunID != rec.RunID || refs[0].Project != "" || refs[0].Namespace != "default" {
		t.Fatalf("refs %v %v", refs, err)
	}
	if _, _, err := c.Record(ctx, record.Ref{RunID: "missing"}); !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestCorruptRecordNamesThePath(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	for name, items := range map[string]map[string]string{
		"bad json":  {"record": "{not json"},
		"no record": {"git_commit": "abc"},
		"bad gzip":  {"record_gz": "bm90IGd6aXA="},
	} {
		srv.SetVariable("default", record.Ref{RunID: "broken"}.Path(), items)
		_, _, err := c.Record(context.Background(), record.Ref{RunID: "broken"})
		if !errors.Is(err, nomad.ErrCorrupt) || !strings.Contains(err.Error(), "caravan/runs/broken") {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestLargeRecordsAreCompressedAndHugeUsageDownsampled(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	big := make(map[string]any)
	for i := 0; i < 3000; i++ {
		big[fmt.Sprintf("param_%04d", i)] = "some repeated value that compresses well"
	}
	rec := &record.Run{RunID: "big-1", Params: big}
	if err := c.CreateRecord(ctx, "", rec); err != nil {
		t.Fatal(err)
	}
	if items := srv.VariableItems("default", record.Ref{RunID: "big-1"}.Path()); items["record_gz"] == "" {
		t.Fatalf("large record not compressed: items %d", len(items))
	}
	got, _, err := c.Record(ctx, record.Ref{RunID: "big-1"})
	if err != nil || len(got.Params) != 3000 {
		t.Fatalf("read back: %v (%d params)", err, len(got.Params))
	}

	// A usage timeline of pseudo-random floats does not compress well:
	// it is halved until it fits, not refused.
	u := &record.Usage{RunID: "big-1"}
	x := uint64(1)
	next := func() float64 { x = x*6364136223846793005 + 1442695040888963407; return float64(x>>11) / (1 << 53) }
	for i := 0; i < 5000; i++ {
		u.Timeline.T = append(u.Timeline.T, float64(i)*5.123)
		u.Timeline.GPUUtil = append(u.Timeline.GPUUtil, next())
		u.Timeline.GPUMem = append(u.Timeline.GPUMem, next()*8e10)
		u.Timeline.RSS = append(u.Timeline.RSS, next()*1e11)
		u.Timeline.CPU = append(u.Timeline.CPU, next()*96)
	}
	if err := c.PutUsage(ctx, "", u); err != nil {
		t.Fatal(err)
	}
	back, err := c.Usage(ctx, record.Ref{Namespace: "", RunID: "big-1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(back.Timeline.T); n == 0 || n >= 5000 || n != len(back.Timeline.RSS) {
		t.Fatalf("timeline points %d (rss %d)", n, len(back.Timeline.RSS))
	}
	step := 5000 / len(back.Timeline.T)
	if back.Timeline.T[0] != 0 || back.Timeline.T[1] != u.Timeline.T[step] {
		t.Fatalf("down-sampling broke the time axis: %v", back.Timeline.T[:2])
	}
	if err := c.DeleteRecord(ctx, record.Ref{RunID: "big-1"}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := c.RecordRefs(ctx, "", nomad.RecordScope{All: true}); len(refs) != 0 {
		t.Fatalf("after delete: %v", refs)
	}
}

func TestRecordListFollowsPagination(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	for i := 0; i < 7; i++ {
		srv.SetVariable("default", record.Ref{RunID: fmt.Sprintf("r-%d", i)}.Path(), map[string]string{"record": "{}"})
		srv.SetVariable("default", record.Ref{RunID: fmt.Sprintf("r-%d", i)}.UsagePath(), map[string]string{"usage": "{}"})
	}
	srv.SetVariable("default", "other/thing", map[string]string{"a": "b"})
	srv.SetVariablePageSize(3)
	refs, err := c.RecordRefs(context.Background(), "", nomad.RecordScope{All: true})
	if err != nil || len(refs) != 7 {
		t.Fatalf("refs %v %v", refs, err)
	}
}

// TestRecordsLiveUnderTheirProject: a run of a project keeps its record and
// usage under the project's prefix; listings by project see only their
// own, FindRecord finds any by ID, and a run of no project stays where
// records were before projects.
func TestRecordsLiveUnderTheirProject(t *testing.T) {
	srv := nomadtest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	for _, r := range []*record.Run{
		{RunID: "a-00000001", Project: "vision"},
		{RunID: "a-00000002", Project: "speech"},
		{RunID: "old-00000003"},
	} {
		if err := c.CreateRecord(ctx, "", r); err != nil {
			t.Fatal(err)
		}
		if err := c.PutUsage(ctx, "", &record.Usage{RunID: r.RunID, Project: r.Project, Samples: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if srv.VariableItems("default", "caravan/projects/vision/runs/a-00000001")["record"] == "" ||
		srv.VariableItems("default", "caravan/projects/vision/runs/a-00000001/usage")["usage"] == "" ||
		srv.VariableItems("default", "caravan/runs/old-00000003")["record"] == "" {
		t.Fatal("records are not where their projects keep them")
	}
	tests := []struct {
		scope nomad.RecordScope
		want  []string
	}{
		{nomad.RecordScope{Project: "vision"}, []string{"vision/a-00000001"}},
		{nomad.RecordScope{}, []string{"/old-00000003"}},
		{nomad.RecordScope{All: true}, []string{"/old-00000003", "speech/a-00000002", "vision/a-00000001"}},
	}
	for _, tt := range tests {
		refs, err := c.RecordRefs(ctx, "", tt.scope)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.Project+"/"+r.RunID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("scope %+v: %v, want %v", tt.scope, got, tt.want)
		}
	}
	ref, err := c.FindRecord(ctx, nomad.AllNamespaces, "a-00000002")
	if err != nil || ref.Project != "speech" || ref.Namespace != "default" {
		t.Errorf("FindRecord = %+v, %v", ref, err)
	}
	if u, err := c.Usage(ctx, ref); err != nil || u.Samples != 1 {
		t.Errorf("usage at %+v: %+v %v", ref, u, err)
	}
	if _, err := c.FindRecord(ctx, "", "nope-00000000"); !errors.Is(err, nomad.ErrNotFound) {
		t.Errorf("FindRecord of an unknown run: %v, want ErrNotFound", err)
	}
}
