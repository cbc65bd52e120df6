package compile

import (
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

func TestSourceArtifactAndWorkDir(t *testing.T) {
	for _, tc := range []struct {
		path, git, wantDir, wantSource string
	}{
		{"", "https://x/y.git", "${NOMAD_TASK_DIR}/src", "git::https://x/y.git"},
		{".", "https://x/y.git", "${NOMAD_TASK_DIR}/src", "git::https://x/y.git"},
		{"train/", "git::ssh://git@x/y.git", "${NOMAD_TASK_DIR}/src/train", "git::ssh://git@x/y.git"},
		{"a/./b", "git@github.com:acme/m.git", "${NOMAD_TASK_DIR}/src/a/b", "git::git@github.com:acme/m.git"},
		{"odd%{dir}", "https://x/y.git", "${NOMAD_TASK_DIR}/src/odd%%{dir}", "git::https://x/y.git"},
	} {
		run := minimalRun()
		run.Experiment.Source = &spec.Source{Git: tc.git, Commit: "abcdef1", Path: tc.path}
		job := mustJob(t, run, Options{})
		task := job.TaskGroups[0].Tasks[0]
		if got := task.Config["work_dir"]; got != tc.wantDir {
			t.Errorf("path %q: work_dir %v, want %s", tc.path, got, tc.wantDir)
		}
		if len(task.Artifacts) != 1 {
			t.Fatalf("path %q: %d artifacts, want 1", tc.path, len(task.Artifacts))
		}
		a := task.Artifacts[0]
		if *a.GetterSource != tc.wantSource || a.GetterOptions["ref"] != "abcdef1" || *a.RelativeDest != SourceDir {
			t.Errorf("artifact %s %v %s", *a.GetterSource, a.GetterOptions, *a.RelativeDest)
		}
	}
	job := mustJob(t, minimalRun(), Options{})
	if task := job.TaskGroups[0].Tasks[0]; task.Artifacts != nil || task.Config["work_dir"] != nil {
		t.Errorf("a run without source fetches %v into %v", task.Artifacts, task.Config["work_dir"])
	}
}

func TestTimeoutIsMaxRunDuration(t *testing.T) {
	run := minimalRun()
	run.Experiment.Timeout = 90 * time.Minute
	tg := mustJob(t, run, Options{}).TaskGroups[0]
	if tg.MaxRunDuration == nil || *tg.MaxRunDuration != 90*time.Minute {
		t.Fatalf("max_run_duration %v, want 1h30m", tg.MaxRunDuration)
	}
	if len(tg.Constraints) != 1 || tg.Constraints[0].LTarget != "${attr.nomad.version}" || tg.Constraints[0].RTarget != ">= 2.0.2" {
		t.Errorf("constraints %+v", tg.Constraints)
	}
	if tg := mustJob(t, minimalRun(), Options{}).TaskGroups[0]; tg.MaxRunDuration != nil || tg.Constraints != nil {
		t.Errorf("a run without timeout has max_run_duration %v, constraints %v", tg.MaxRunDuration, tg.Constraints)
	}
}

func TestLinkDependencies(t *testing.T) {
	prep := minimalRun()
	prep.Experiment.Name = "prep"
	train := minimalRun()
	train.Experiment.Name, train.Experiment.DependsOn = "train", []string{"prep"}
	var runs []spec.Run
	for i := range 3 {
		r := prep
		r.Params = []spec.Param{{Name: "shard", Value: cty.NumberIntVal(int64(i))}}
		runs = append(runs, r)
	}
	runs = append(runs, train)
	jobs := mustJobs(t, runs)
	if err := LinkDependencies(jobs); err != nil {
		t.Fatal(err)
	}
	want := []string{*jobs[0].ID, *jobs[1].ID, *jobs[2].ID}
	got := record.WaitForOf(jobs[3].Meta)
	if len(got) != 3 || !strings.HasPrefix(got[0], "prep-") {
		t.Fatalf("train waits for %v, want the three prep runs", got)
	}
	for _, w := range want {
		if !strings.Contains(jobs[3].Meta[record.MetaWaitFor], w) {
			t.Errorf("wait_for %q lacks %s", jobs[3].Meta[record.MetaWaitFor], w)
		}
	}
	if jobs[0].Meta[record.MetaWaitFor] != "" {
		t.Errorf("prep waits for %q", jobs[0].Meta[record.MetaWaitFor])
	}
	if err := LinkDependencies(jobs[3:]); err == nil || !strings.Contains(err.Error(), `"prep"`) {
		t.Errorf("linking without the upstream runs: %v", err)
	}
}

func TestPinImage(t *testing.T) {
	const digest = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ image, want string }{
		{"ghcr.io/acme/train:1.4", "ghcr.io/acme/train@" + digest},
		{"localhost:5000/train", "localhost:5000/train@" + digest},
		{"localhost:5000/train:v2", "localhost:5000/train@" + digest},
		{"busybox", "busybox@" + digest},
		{"ghcr.io/acme/train:1.4@sha256:" + strings.Repeat("f", 64), "ghcr.io/acme/train@" + digest},
	} {
		run := fullRun()
		run.Experiment.Image = tc.image
		job := mustJob(t, run, Options{Pools: testOptions().Pools})
		id := *job.ID
		if err := PinImage(job, digest); err != nil {
			t.Fatal(err)
		}
		if got := job.TaskGroups[0].Tasks[0].Config["image"]; got != tc.want {
			t.Errorf("%s pinned to %v, want %s", tc.image, got, tc.want)
		}
		if job.Meta[record.MetaImage] != tc.image || job.Meta[record.MetaImageDigest] != digest || *job.ID != id {
			t.Errorf("%s: meta %s %s, ID %s (was %s)", tc.image, job.Meta[record.MetaImage], job.Meta[record.MetaImageDigest], *job.ID, id)
		}
	}
}

func TestImageDeclaredByDigest(t *testing.T) {
	run := fullRun()
	run.Experiment.Image = "ghcr.io/acme/train@sha256:" + strings.Repeat("a", 64)
	job := mustJob(t, run, Options{Pools: testOptions().Pools})
	if job.Meta[record.MetaImageDigest] != "sha256:"+strings.Repeat("a", 64) {
		t.Errorf("digest meta %q", job.Meta[record.MetaImageDigest])
	}
}

func mustJobs(t *testing.T, runs []spec.Run) []*api.Job {
	t.Helper()
	jobs := make([]*api.Job, len(runs))
	for i, r := range runs {
		jobs[i] = mustJob(t, r, Options{})
	}
	return jobs
}
