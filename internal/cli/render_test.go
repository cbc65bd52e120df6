package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// decodeJobStream reads render's JSON output: {"Job": ...} documents one
// after another.
func decodeJobStream(t *testing.T, out string) []*api.Job {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var jobs []*api.Job
	for {
		var env struct{ Job *api.Job }
		err := dec.Decode(&env)
		if errors.Is(err, io.EOF) {
			return jobs
		}
		if err != nil || env.Job == nil {
			t.Fatalf("document %d is not a {\"Job\": ...} envelope: %v\n%s", len(jobs), err, out)
		}
		jobs = append(jobs, env.Job)
	}
}

func TestRenderJSON(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL, "b.hcl": smokeHCL})
	r := execCaravan(t, nil, "", "render", dir)
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("code %d stderr %s", r.code, r.stderr)
	}
	jobs := decodeJobStream(t, r.stdout)
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want one per run (3)", len(jobs))
	}
	// The output is exactly the compiler's renders, concatenated.
	cfg, diags := spec.Load(context.Background(), dir, spec.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var want bytes.Buffer
	for i, run := range cfg.Runs {
		job, err := compile.Job(run, compile.Options{ConfigDir: dir, Pools: cfg.Pools, CaravanVersion: Version})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := compile.RenderJSON(job)
		want.Write(b)
		if *jobs[i].ID != compile.RunID(run) {
			t.Errorf("job %d ID %s, want %s", i, *jobs[i].ID, compile.RunID(run))
		}
	}
	if r.stdout != want.String() {
		t.Errorf("render output differs from compile.RenderJSON of each run")
	}
	if !strings.HasPrefix(r.stdout, "{\n    \"Job\": {\n") {
		t.Errorf("not the nomad -output layout: %.40q", r.stdout)
	}
}

func TestRenderExperimentFilter(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL, "b.hcl": smokeHCL})
	r := execCaravan(t, nil, "", "render", dir, "-experiment", "smoke")
	jobs := decodeJobStream(t, r.stdout)
	if r.code != ExitOK || len(jobs) != 1 || jobs[0].Meta[record.MetaExperiment] != "smoke" {
		t.Fatalf("code %d, %d jobs: %s", r.code, len(jobs), r.stderr)
	}
	r = execCaravan(t, nil, "", "render", dir, "-experiment", "nope")
	if r.code != ExitError || !strings.Contains(r.stderr, `no experiment "nope"`) || !strings.Contains(r.stderr, "resnet50, smoke") {
		t.Errorf("unknown experiment: code %d stderr %s", r.code, r.stderr)
	}
}

func TestRenderHCL(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL})
	r := execCaravan(t, nil, "", "render", dir, "-format", "hcl")
	if r.code != ExitOK {
		t.Fatalf("code %d stderr %s", r.code, r.stderr)
	}
	docs := strings.Split(r.stdout, "\n# run ")
	if len(docs) != 2 || !strings.HasPrefix(docs[0], "# run resnet50-") {
		t.Fatalf("want two jobspecs each after a '# run ID' line:\n%s", r.stdout)
	}
	for i, doc := range docs {
		if i == 0 {
			doc = strings.TrimPrefix(doc, "# run ")
		}
		id, spec, _ := strings.Cut(doc, "\n")
		f, diags := hclsyntax.ParseConfig([]byte(spec), "job.nomad.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("jobspec %d does not parse: %v\n%s", i, diags, spec)
		}
		blocks := f.Body.(*hclsyntax.Body).Blocks
		if len(blocks) != 1 || blocks[0].Type != "job" || blocks[0].Labels[0] != id {
			t.Errorf("jobspec %d is not one job %q block", i, id)
		}
		for _, want := range []string{`driver = "docker"`, `device "nvidia/gpu"`, `value     = "40 GiB"`, `memory = 65536`} {
			if !strings.Contains(spec, want) {
				t.Errorf("jobspec %d lacks %q:\n%s", i, want, spec)
			}
		}
	}
}

func TestRenderOut(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL})
	out := filepath.Join(t.TempDir(), "jobs")
	for _, format := range []string{"json", "hcl"} {
		r := execCaravan(t, nil, "", "render", dir, "-format", format, "-out", out)
		if r.code != ExitOK || r.stdout != "" || !strings.Contains(r.stderr, "Wrote 2 jobs to "+out) {
			t.Fatalf("%s: code %d stdout %q stderr %s", format, r.code, r.stdout, r.stderr)
		}
	}
	names, _ := filepath.Glob(filepath.Join(out, "resnet50-*"))
	if len(names) != 4 {
		t.Fatalf("files %v, want 2 .json and 2 .nomad.hcl", names)
	}
	for _, n := range names {
		b, _ := os.ReadFile(n)
		if strings.HasSuffix(n, ".json") {
			if jobs := decodeJobStream(t, string(b)); len(jobs) != 1 || *jobs[0].ID+".json" != filepath.Base(n) {
				t.Errorf("%s does not hold its own job", n)
			}
		} else if !strings.HasPrefix(string(b), `job "`+strings.TrimSuffix(filepath.Base(n), ".nomad.hcl")+`" {`) {
			t.Errorf("%s does not hold its own jobspec", n)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	good := writeConfigDir(t, map[string]string{"a.hcl": sweepHCL})
	if r := execCaravan(t, nil, "", "render", good, "-format", "yaml"); r.code != ExitUsage || !strings.Contains(r.stderr, "use json or hcl") {
		t.Errorf("bad format: code %d %s", r.code, r.stderr)
	}
	bad := writeConfigDir(t, map[string]string{"bad.hcl": badHCL})
	if r := execCaravan(t, nil, "", "render", bad); r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, "Error: Priority out of range") {
		t.Errorf("invalid config: code %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if r := execCaravan(t, nil, "", "render", good, "-max-runs", "1"); r.code != ExitError {
		t.Errorf("-max-runs 1: code %d", r.code)
	}
	if r := execCaravan(t, nil, "", "render", good, "x"); r.code != ExitUsage {
		t.Errorf("two dirs: code %d", r.code)
	}
}

func TestRenderVarChangesRun(t *testing.T) {
	dir := writeConfigDir(t, map[string]string{"v.hcl": varHCL})
	a := decodeJobStream(t, execCaravan(t, nil, "", "render", dir, "-var", "lr=0.5").stdout)
	b := decodeJobStream(t, execCaravan(t, []string{"CARAVAN_VAR_lr=0.25"}, "", "render", dir).stdout)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("jobs %d and %d", len(a), len(b))
	}
	if a[0].TaskGroups[0].Tasks[0].Env["CARAVAN_PARAM_LR"] != "0.5" || b[0].Meta["caravan_param_lr"] != "0.25" {
		t.Errorf("variables did not reach the runs: %v / %v", a[0].TaskGroups[0].Tasks[0].Env, b[0].Meta)
	}
	if *a[0].ID == *b[0].ID {
		t.Errorf("different params gave the same run ID %s", *a[0].ID)
	}
}

// TestRenderGitState: the configuration's commit and dirtiness reach meta.
func TestRenderGitState(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := writeConfigDir(t, map[string]string{"b.hcl": smokeHCL})
	environ := []string{"HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = environ
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	meta := func() map[string]string {
		r := execCaravan(t, environ, "", "render", dir)
		jobs := decodeJobStream(t, r.stdout)
		if len(jobs) != 1 {
			t.Fatalf("render: %s", r.stderr)
		}
		return jobs[0].Meta
	}

	if m := meta(); m[record.MetaConfigCommit] != "" || m[record.MetaConfigDirty] != "false" {
		t.Errorf("outside git: commit %q dirty %q", m[record.MetaConfigCommit], m[record.MetaConfigDirty])
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "x")
	head := git("rev-parse", "HEAD")
	m := meta()
	if m[record.MetaConfigCommit] != head || m[record.MetaConfigDirty] != "false" {
		t.Errorf("clean: commit %q dirty %q, want %s false", m[record.MetaConfigCommit], m[record.MetaConfigDirty], head)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	m2 := meta()
	if m2[record.MetaConfigDirty] != "true" {
		t.Errorf("untracked file: dirty %q, want true", m2[record.MetaConfigDirty])
	}
	if m2[record.MetaRunID] != m[record.MetaRunID] {
		t.Errorf("the configuration's git state changed the run ID")
	}
}

func TestCompileConfigDiagnostics(t *testing.T) {
	rng := hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: 2, Column: 1, Byte: 10}, End: hcl.Pos{Line: 2, Column: 5, Byte: 14}}
	broken := &spec.Experiment{Name: "broken", Pool: "p", Priority: 50, Driver: "java", DeclRange: rng}
	fine := &spec.Experiment{Name: "fine", Pool: "p", Priority: 50, Driver: "exec", DeclRange: rng}
	cfg := &spec.Config{Runs: []spec.Run{
		{Experiment: broken, Command: "a"}, {Experiment: broken, Index: 1, Command: "b"},
		{Experiment: fine, Command: "a"}, {Experiment: fine, Index: 1, Command: "a"}, {Experiment: fine, Index: 2, Command: "a"},
	}}
	jobs, diags := compileConfig(context.Background(), cfg, compile.Options{}, "")
	if len(jobs) != 1 || len(diags) != 2 {
		t.Fatalf("%d jobs %d diags: %v", len(jobs), len(diags), diags)
	}
	if diags[0].Summary != "Experiment does not compile to a Nomad job" || !strings.Contains(diags[0].Detail, "java") || *diags[0].Subject != rng {
		t.Errorf("compile failure diagnostic: %+v", diags[0])
	}
	if diags[1].Summary != "Duplicate run" || !strings.Contains(diags[1].Detail, "Sweep points 0 and 1") {
		t.Errorf("duplicate diagnostic: %+v", diags[1])
	}
	if jobs, diags := compileConfig(context.Background(), cfg, compile.Options{}, "fine"); len(jobs) != 1 || len(diags) != 1 {
		t.Errorf("filtered: %d jobs %d diags", len(jobs), len(diags))
	}
	runs, jobs, _ := compileRuns(context.Background(), cfg, compile.Options{}, "")
	if len(runs) != 1 || runs[0].Experiment != fine || runs[0].Index != 0 || *jobs[0].ID != compile.RunID(runs[0]) {
		t.Errorf("compileRuns does not pair runs with their jobs: %d runs", len(runs))
	}
}

// TestRenderIDCollision: two different runs whose 8-hex IDs collide are
// valid and render as two jobs with distinct IDs.
func TestRenderIDCollision(t *testing.T) {
	if testing.Short() {
		t.Skip("searches ~80k runs for a 32-bit collision")
	}
	const tmpl = "experiment \"c\" {\n  pool    = \"cpu\"\n  driver  = \"exec\"\n  command = \"/bin/true\"\n  sweep {\n    grid = { seed = [%d, %d] }\n  }\n}\n"
	probe := writeConfigDir(t, map[string]string{"c.hcl": fmt.Sprintf(tmpl, 0, 1)})
	cfg, diags := spec.Load(context.Background(), probe, spec.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	seen := map[string]int64{}
	var a, b int64 = -1, -1
	for i := int64(0); i < 1_000_000 && a < 0; i++ {
		r := cfg.Runs[0]
		r.Params = []spec.Param{{Name: "seed", Value: cty.NumberIntVal(i)}}
		id := compile.RunID(r)
		if j, ok := seen[id]; ok {
			a, b = j, i
		}
		seen[id] = i
	}
	if a < 0 {
		t.Fatal("no collision found")
	}
	dir := writeConfigDir(t, map[string]string{"c.hcl": fmt.Sprintf(tmpl, a, b)})
	if r := execCaravan(t, nil, "", "validate", dir); r.code != ExitOK {
		t.Fatalf("validate: %d %s", r.code, r.stderr)
	}
	r := execCaravan(t, nil, "", "render", dir)
	jobs := decodeJobStream(t, r.stdout)
	if r.code != ExitOK || len(jobs) != 2 {
		t.Fatalf("render: code %d, %d jobs, %s", r.code, len(jobs), r.stderr)
	}
	if *jobs[0].ID == *jobs[1].ID || len(*jobs[0].ID)+len(*jobs[1].ID) != 2*len("c-12345678")+4 {
		t.Errorf("IDs %s and %s: want distinct, one lengthened by 4 digits", *jobs[0].ID, *jobs[1].ID)
	}
}
