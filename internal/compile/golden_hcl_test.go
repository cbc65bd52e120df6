package compile

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

// loadTestdata loads one testdata/*.hcl file as a configuration of its own.
func loadTestdata(t testing.TB, name string) (*spec.Config, Options) {
	t.Helper()
	cfg, diags := spec.LoadFiles(context.Background(), "testdata", []string{name}, spec.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("loading testdata/%s: %v", name, diags)
	}
	return cfg, Options{ConfigDir: "testdata", Pools: cfg.Pools}
}

// TestGoldenFromHCL: testdata/X.hcl renders to testdata/X.golden.json (the
// JSON stream caravan render prints) and X.golden.nomad.hcl; -update
// rewrites them.
func TestGoldenFromHCL(t *testing.T) {
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.hcl: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasSuffix(name, ".golden.nomad.hcl") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			cfg, opts := loadTestdata(t, name)
			if len(cfg.Runs) == 0 {
				t.Fatal("no runs")
			}
			var js, hcl bytes.Buffer
			for _, run := range cfg.Runs {
				job, err := Job(run, opts)
				if err != nil {
					t.Fatal(err)
				}
				b, err := RenderJSON(job)
				if err != nil {
					t.Fatal(err)
				}
				js.Write(b)
				h, err := RenderHCL(job)
				if err != nil {
					t.Fatal(err)
				}
				hcl.WriteString("# run " + *job.ID + "\n")
				hcl.Write(h)
			}
			base := strings.TrimSuffix(name, ".hcl")
			golden.Check(t, filepath.Join("testdata", base+".golden.json"), js.Bytes())
			golden.Check(t, filepath.Join("testdata", base+".golden.nomad.hcl"), hcl.Bytes())
		})
	}
}

// TestFixtureFromHCL: the experiment written in caravan's language compiles
// to the same job as the hand-built fixtureRun, so the fixture comparison
// holds for what users actually write.
func TestFixtureFromHCL(t *testing.T) {
	cfg, opts := loadTestdata(t, "fixture-gpu-fits.hcl")
	if len(cfg.Runs) != 1 {
		t.Fatalf("%d runs", len(cfg.Runs))
	}
	fromHCL, err := Job(cfg.Runs[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	built := mustJob(t, fixtureRun(1), Options{})
	// Only where the block sits may differ: it is not part of the run.
	for _, k := range []string{record.MetaConfigDir, record.MetaFile, record.MetaLine} {
		fromHCL.Meta[k], built.Meta[k] = "", ""
	}
	a, _ := RenderJSON(fromHCL)
	b, _ := RenderJSON(built)
	if !bytes.Equal(a, b) {
		t.Errorf("the HCL experiment and fixtureRun compile differently:\n%s", golden.Diff(string(b), string(a)))
	}
}
