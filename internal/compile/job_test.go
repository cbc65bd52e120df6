package compile

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

func mustJob(t *testing.T, run spec.Run, opts Options) *api.Job {
	t.Helper()
	job, err := Job(run, opts)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	return job
}

func TestJobFullRun(t *testing.T) {
	run := fullRun()
	job := mustJob(t, run, testOptions())

	id := RunID(run)
	if !regexp.MustCompile(`^resnet50-[0-9a-f]{8}$`).MatchString(id) {
		t.Fatalf("RunID = %q, want resnet50-<8 hex>", id)
	}
	if *job.ID != id || *job.Name != id {
		t.Errorf("ID, Name = %q, %q; want both %q", *job.ID, *job.Name, id)
	}
	if *job.Type != "batch" || *job.Priority != 70 || *job.Namespace != "ml" || *job.NodePool != "gpu-a100" {
		t.Errorf("type/priority/namespace/node pool = %s/%d/%s/%s", *job.Type, *job.Priority, *job.Namespace, *job.NodePool)
	}
	if len(job.Datacenters) != 1 || job.Datacenters[0] != "*" {
		t.Errorf("Datacenters = %v, want [*]", job.Datacenters)
	}
	if len(job.TaskGroups) != 1 {
		t.Fatalf("%d groups, want 1", len(job.TaskGroups))
	}
	tg := job.TaskGroups[0]
	if *tg.Name != GroupName || *tg.Count != 1 {
		t.Errorf("group %s count %d", *tg.Name, *tg.Count)
	}
	if *tg.RestartPolicy.Attempts != 0 || *tg.RestartPolicy.Mode != "fail" {
		t.Errorf("restart policy %+v", tg.RestartPolicy)
	}
	if *tg.ReschedulePolicy.Attempts != 2 || *tg.ReschedulePolicy.Unlimited {
		t.Errorf("reschedule policy %+v", tg.ReschedulePolicy)
	}
	if *tg.EphemeralDisk.SizeMB != 50*1024 {
		t.Errorf("disk %d MB, want 51200", *tg.EphemeralDisk.SizeMB)
	}
	task := tg.Tasks[0]
	if task.Name != TaskName || task.Driver != "docker" {
		t.Errorf("task %s driver %s", task.Name, task.Driver)
	}
	wantCfg := map[string]any{
		"image": "ghcr.io/acme/train:1.4", "command": "python",
		"args": []string{"train.py", "--lr", "0.01", "--batch", "256"}, "shm_size": 16 * gib,
		"work_dir": "${NOMAD_TASK_DIR}/src/train",
	}
	if a, b := jsonOf(t, task.Config), jsonOf(t, wantCfg); a != b {
		t.Errorf("config\n got %s\nwant %s", a, b)
	}
	wantEnv := map[string]string{
		"WANDB_MODE": "offline", "SEED": "1", "CARAVAN_RUN_ID": id,
		"CARAVAN_PARAM_BATCH": "256", "CARAVAN_PARAM_LR": "0.01", "CARAVAN_PARAM_OPT": "adam",
		"CARAVAN_METRICS": "${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl",
	}
	if a, b := jsonOf(t, task.Env), jsonOf(t, wantEnv); a != b {
		t.Errorf("env\n got %s\nwant %s", a, b)
	}
	r := task.Resources
	if *r.CPU != 8000 || r.Cores != nil || *r.MemoryMB != 64*1024 {
		t.Errorf("cpu %v cores %v memory %v", r.CPU, r.Cores, *r.MemoryMB)
	}
	wantDev := `[{"Name":"nvidia/gpu","Count":2,"Constraints":[{"LTarget":"${device.model}","RTarget":"H100","Operand":"regexp"},{"LTarget":"${device.attr.memory}","RTarget":"40 GiB","Operand":">="}],"Affinities":null}]`
	if got := jsonOf(t, r.Devices); got != wantDev {
		t.Errorf("devices\n got %s\nwant %s", got, wantDev)
	}
}

func TestJobMeta(t *testing.T) {
	run := fullRun()
	opts := testOptions()
	opts.ConfigDirty = true
	job := mustJob(t, run, opts)
	want := map[string]string{
		record.MetaManagedBy:             record.ManagedByValue,
		record.MetaRunID:                 RunID(run),
		record.MetaExperiment:            "resnet50",
		record.MetaSpecHash:              SpecHash(run),
		record.MetaPool:                  "a100",
		record.MetaGPUs:                  "2",
		record.MetaParams:                `{"batch":256,"lr":0.01,"opt":"adam"}`,
		record.MetaParamPrefix + "batch": "256",
		record.MetaParamPrefix + "lr":    "0.01",
		record.MetaParamPrefix + "opt":   "adam",
		record.MetaSourceGit:             "https://github.com/acme/models.git",
		record.MetaSourceCommit:          "4f2a9c1e",
		record.MetaSourcePath:            "train",
		record.MetaFile:                  "vision.hcl",
		record.MetaLine:                  "12",
		record.MetaConfigCommit:          opts.ConfigCommit,
		record.MetaConfigDirty:           "true",
		record.MetaConfigDir:             "experiments",
		record.MetaTimeout:               "12h0m0s",
		record.MetaDependsOn:             "prep,tokenize",
		record.MetaRerun:                 "0",
		record.MetaImage:                 "ghcr.io/acme/train:1.4",
		record.MetaImagePinning:          "pin",
		record.MetaCaravanVersion:        "1.2.3",
	}
	if a, b := jsonOf(t, job.Meta), jsonOf(t, want); a != b {
		t.Errorf("meta\n got %s\nwant %s", a, b)
	}
	envName := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for k := range job.Meta {
		if !envName.MatchString(k) {
			t.Errorf("meta key %q is not a valid NOMAD_META_* env name", k)
		}
	}
	if len(SpecHash(run)) != 64 {
		t.Errorf("spec hash %q is not a full sha256", SpecHash(run))
	}
}

func TestJobMinimalRun(t *testing.T) {
	job := mustJob(t, minimalRun(), Options{})
	if job.Namespace != nil {
		t.Errorf("Namespace = %q, want unset so the client's default applies", *job.Namespace)
	}
	if *job.NodePool != "cpu" {
		t.Errorf("node pool %q, want the pool name without a pool map", *job.NodePool)
	}
	tg := job.TaskGroups[0]
	if tg.EphemeralDisk != nil {
		t.Errorf("ephemeral disk set without disk")
	}
	task := tg.Tasks[0]
	if task.Driver != "exec" || jsonOf(t, task.Config) != `{"command":"/bin/true"}` {
		t.Errorf("driver %s config %s", task.Driver, jsonOf(t, task.Config))
	}
	r := task.Resources
	if r.CPU != nil || r.Cores != nil || r.MemoryMB != nil || r.Devices != nil {
		t.Errorf("resources %s, want all unset", jsonOf(t, r))
	}
	for _, k := range []string{record.MetaSourceGit, record.MetaTimeout, record.MetaDependsOn, record.MetaConfigCommit} {
		if v, ok := job.Meta[k]; !ok || v != "" {
			t.Errorf("meta %s = %q (present %v), want present and empty", k, v, ok)
		}
	}
	if job.Meta[record.MetaParams] != "{}" || job.Meta[record.MetaConfigDirty] != "false" {
		t.Errorf("params %q dirty %q", job.Meta[record.MetaParams], job.Meta[record.MetaConfigDirty])
	}
}

func TestJobZeroPriorityIsDefault(t *testing.T) {
	a, b := minimalRun(), minimalRun()
	a.Experiment.Priority, b.Experiment.Priority = 0, DefaultPriority
	ja, jb := mustJob(t, a, Options{}), mustJob(t, b, Options{})
	if *ja.Priority != DefaultPriority || *ja.ID != *jb.ID {
		t.Errorf("priority 0 gave %d and ID %s; want %d and %s", *ja.Priority, *ja.ID, DefaultPriority, *jb.ID)
	}
}

func TestJobCoresAndDevicePool(t *testing.T) {
	run := minimalRun()
	run.Experiment.Resources = spec.Resources{Cores: 8, GPUs: 1}
	opts := Options{Pools: map[string]*spec.Pool{"cpu": {Name: "cpu", NodePool: "h100-spot", GPU: "nvidia/gpu/H100"}}}
	job := mustJob(t, run, opts)
	r := job.TaskGroups[0].Tasks[0].Resources
	if r.CPU != nil || *r.Cores != 8 {
		t.Errorf("cpu %v cores %v, want cores 8 only", r.CPU, r.Cores)
	}
	if r.Devices[0].Name != "nvidia/gpu/H100" || r.Devices[0].Constraints != nil {
		t.Errorf("device %s", jsonOf(t, r.Devices))
	}
	if *job.NodePool != "h100-spot" {
		t.Errorf("node pool %s", *job.NodePool)
	}
}

func TestJobErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*spec.Run, *Options)
		want   string
	}{
		{"docker without image", func(r *spec.Run, _ *Options) { r.Experiment.Driver = "docker" }, "without an image"},
		{"image on exec", func(r *spec.Run, _ *Options) { r.Experiment.Image = "x" }, "runs no container"},
		{"exec without command", func(r *spec.Run, _ *Options) { r.Command = "" }, "needs a command"},
		{"unknown driver", func(r *spec.Run, _ *Options) { r.Experiment.Driver = "java" }, "use docker, exec or raw_exec"},
		{"cpu and cores", func(r *spec.Run, _ *Options) { r.Experiment.Resources.CPU, r.Experiment.Resources.Cores = 1000, 2 }, "both cpu and cores"},
		{"negative gpus", func(r *spec.Run, _ *Options) { r.Experiment.Resources.GPUs = -1 }, "GPUs"},
		{"unknown pool", func(r *spec.Run, o *Options) { o.Pools = map[string]*spec.Pool{} }, "does not define"},
		{"param env clash", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "a-b", Value: cty.NumberIntVal(1)}, {Name: "a_b", Value: cty.NumberIntVal(2)}}
		}, "both become env"},
		{"unknown param", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "x", Value: cty.UnknownVal(cty.Number)}}
		}, "known string, number or bool"},
		{"list param", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "x", Value: cty.ListValEmpty(cty.String)}}
		}, "known string, number or bool"},
		{"no experiment", func(r *spec.Run, _ *Options) { r.Experiment = nil }, "no experiment"},
		{"priority too high", func(r *spec.Run, _ *Options) { r.Experiment.Priority = 101 }, "1..100"},
		{"priority negative", func(r *spec.Run, _ *Options) { r.Experiment.Priority = -1 }, "1..100"},
		{"negative retries", func(r *spec.Run, _ *Options) { r.Experiment.Retries = -1 }, "retries -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, opts := minimalRun(), Options{}
			tt.change(&run, &opts)
			_, err := Job(run, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestCanonicalizedPolicies runs Nomad's own defaulting (what the server
// does on register) and checks the retries survive with room to happen.
func TestCanonicalizedPolicies(t *testing.T) {
	job := mustJob(t, fullRun(), testOptions())
	job.Canonicalize()
	rp := job.TaskGroups[0].ReschedulePolicy
	if *rp.Attempts != 2 || *rp.Unlimited || *rp.Interval < time.Hour || *rp.Delay*2 > *rp.Interval {
		t.Errorf("canonical reschedule policy %s does not allow 2 attempts", jsonOf(t, rp))
	}
	restart := job.TaskGroups[0].RestartPolicy
	if *restart.Attempts != 0 || *restart.Mode != "fail" {
		t.Errorf("canonical restart policy %s", jsonOf(t, restart))
	}
}

func TestDeviceSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{40 * gib, "40 GiB"}, {80 << 40, "80 TiB"}, {1.5e12, "1500 GB"}, {512 << 20, "512 MiB"},
		{1536 << 20, "1536 MiB"}, {5e6, "5 MB"}, {3 << 10, "3 KiB"}, {2000, "2 kB"}, {1001, "1001 B"},
	}
	for _, tt := range tests {
		if got := DeviceSize(tt.in); got != tt.want {
			t.Errorf("DeviceSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRelFile(t *testing.T) {
	tests := []struct{ dir, file, want string }{
		{"experiments", "experiments/a.hcl", "a.hcl"},
		{"experiments", "experiments/sub/a.hcl", "sub/a.hcl"},
		{"", "a.hcl", "a.hcl"},
		{"experiments", "other/a.hcl", "other/a.hcl"},
		{"x", "", ""},
	}
	for _, tt := range tests {
		if got := relFile(tt.dir, tt.file); got != tt.want {
			t.Errorf("relFile(%q, %q) = %q, want %q", tt.dir, tt.file, got, tt.want)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
