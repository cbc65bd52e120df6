package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

// testdata/nomad holds copies of jobs recorded from a real Nomad 2.0.5 with
// `nomad job run -output *.nomad.hcl` (the jobspecs are beside them), so
// that the comparison runs without the shared fixtures directory;
// TestFixtureCopiesCurrent keeps the copies honest where it is present.
const (
	fixtureCopies  = "testdata/nomad"
	sharedFixtures = "../../../shared/nomad-api-fixtures"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureCopies, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixtureCopiesCurrent(t *testing.T) {
	for _, name := range []string{"jobspec-gpu-fits.json", "jobspec-gpu-too-big.json", "jobspec-fails-exit3.json", "get-job-gpu-too-big.json"} {
		shared, err := os.ReadFile(filepath.Join(sharedFixtures, name))
		if os.IsNotExist(err) {
			t.Skipf("no shared fixtures beside the repository")
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(shared, readFixture(t, name)) {
			t.Errorf("testdata/nomad/%s differs from the shared recording; copy it again", name)
		}
	}
}

// TestRenderJSONEncodingMatchesNomad: decoding a recorded -output and
// rendering it again gives the recorded bytes, so RenderJSON's envelope,
// field order, null handling, indent and escaping are Nomad's.
func TestRenderJSONEncodingMatchesNomad(t *testing.T) {
	for _, name := range []string{"jobspec-gpu-fits.json", "jobspec-gpu-too-big.json", "jobspec-fails-exit3.json"} {
		t.Run(name, func(t *testing.T) {
			want := readFixture(t, name)
			var env struct{ Job *api.Job }
			if err := json.Unmarshal(want, &env); err != nil {
				t.Fatal(err)
			}
			got, err := RenderJSON(env.Job)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("re-rendered fixture differs:\n%s", golden.Diff(string(want), string(got)))
			}
		})
	}
}

// allowedDiff lists the only paths where a compiled run may differ in value
// from the recorded jobspec of the same experiment, and why. Every other
// path must be equal in value, and every object must have the same keys.
var allowedDiff = map[string]string{
	"Job.ID":                         "content-addressed run ID instead of the jobspec's name",
	"Job.Name":                       "same as ID",
	"Job.Meta":                       "caravan's meta keys instead of the jobspec's hand-written ones",
	"Job.Priority":                   "set explicitly (50) where the jobspec leaves Nomad's default (50)",
	"Job.Datacenters":                `set explicitly (["*"]) where the jobspec leaves Nomad's default (["*"])`,
	"Job.TaskGroups.0.Count":         "set explicitly (1) where the jobspec leaves Nomad's default (1)",
	"Job.TaskGroups.0.Tasks.0.Env.*": "CARAVAN_RUN_ID and CARAVAN_PARAM_* added beside the jobspec's env",
	"Job.TaskGroups.0.Tasks.0.Env.LR": "the jobspec has Nomad interpolate ${NOMAD_META_...} when the task starts; caravan passes " +
		"a declared value as written, the ${ escaped (interp.go)",
	"Job.TaskGroups.0.Tasks.0.Meta": "caravan_dollar, the \"$\" that the escaped ${ in env refers to",
}

func TestRenderMatchesFixtureShape(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		gpus    int
	}{{"jobspec-gpu-fits.json", 1}, {"jobspec-gpu-too-big.json", 3}} {
		t.Run(tt.fixture, func(t *testing.T) {
			fixture := readFixture(t, tt.fixture)
			run := fixtureRun(tt.gpus)
			job := mustJob(t, run, Options{ConfigDir: "exp"})
			got, err := RenderJSON(job)
			if err != nil {
				t.Fatal(err)
			}

			var want, have any
			decodeNumbers(t, fixture, &want)
			decodeNumbers(t, got, &have)
			var diffs []string
			compareShape("", want, have, &diffs)
			if len(diffs) > 0 {
				t.Fatalf("rendered job differs from %s:\n%s\n\nrendered:\n%s", tt.fixture, strings.Join(diffs, "\n"), got)
			}

			// The allowed differences are exactly these values.
			id := RunID(run)
			if !regexp.MustCompile(`^resnet-[0-9a-f]{8}$`).MatchString(id) || *job.ID != id || *job.Name != id {
				t.Errorf("ID %s Name %s", *job.ID, *job.Name)
			}
			if *job.Priority != 50 || !reflect.DeepEqual(job.Datacenters, []string{"*"}) || *job.TaskGroups[0].Count != 1 {
				t.Errorf("priority %d datacenters %v count %d", *job.Priority, job.Datacenters, *job.TaskGroups[0].Count)
			}
			task := job.TaskGroups[0].Tasks[0]
			env := task.Env
			if env["LR"] != "${NOMAD_META_"+MetaDollar+"}{NOMAD_META_caravan_params_lr}" || env["CARAVAN_RUN_ID"] != id || env["CARAVAN_PARAM_LR"] != "0.001" ||
				env["CARAVAN_METRICS"] != "${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl" || len(env) != 4 {
				t.Errorf("env %v", env)
			}
			if !reflect.DeepEqual(task.Meta, map[string]string{MetaDollar: "$"}) {
				t.Errorf("task meta %v", task.Meta)
			}

			// Put the fixture's values at the allowed paths: the rest must
			// then be the recorded bytes exactly.
			var fx struct{ Job *api.Job }
			if err := json.Unmarshal(fixture, &fx); err != nil {
				t.Fatal(err)
			}
			job.ID, job.Name, job.Meta = fx.Job.ID, fx.Job.Name, fx.Job.Meta
			job.Priority, job.Datacenters, job.TaskGroups[0].Count = nil, nil, nil
			task.Env, task.Meta = fx.Job.TaskGroups[0].Tasks[0].Env, fx.Job.TaskGroups[0].Tasks[0].Meta
			patched, err := RenderJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(patched, fixture) {
				t.Errorf("with the allowed differences undone, the render still differs:\n%s", golden.Diff(string(fixture), string(patched)))
			}
		})
	}
}

func decodeNumbers(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

// compareShape walks the recorded (want) and rendered (have) documents.
// Objects must have identical key sets everywhere outside map-valued
// allowed paths; values must be equal outside allowed paths.
func compareShape(path string, want, have any, diffs *[]string) {
	if _, ok := allowedDiff[path]; ok {
		if wm, ok := want.(map[string]any); ok {
			if hm, ok := have.(map[string]any); ok {
				// A map whose contents may differ: still no recorded key
				// may vanish unless the whole map is caravan's (Meta).
				if path != "Job.Meta" {
					for k := range wm {
						if _, ok := hm[k]; !ok {
							*diffs = append(*diffs, fmt.Sprintf("%s.%s: recorded key missing", path, k))
						}
					}
				}
			}
		}
		return
	}
	if _, ok := allowedDiff[path+".*"]; ok {
		wm, _ := want.(map[string]any)
		hm, _ := have.(map[string]any)
		for k, v := range wm {
			if _, ok := allowedDiff[path+"."+k]; ok {
				continue
			}
			if !reflect.DeepEqual(hm[k], v) {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: recorded %v, rendered %v", path, k, v, hm[k]))
			}
		}
		return
	}
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded an object, rendered %T", path, have))
			return
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range h {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, wok := w[k]
			hv, hok := h[k]
			p := strings.TrimPrefix(path+"."+k, ".")
			switch {
			case !wok:
				*diffs = append(*diffs, fmt.Sprintf("%s: rendered key not in the recording", p))
			case !hok:
				*diffs = append(*diffs, fmt.Sprintf("%s: recorded key not rendered", p))
			default:
				compareShape(p, wv, hv, diffs)
			}
		}
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded %v, rendered %v", path, want, have))
			return
		}
		for i := range w {
			compareShape(fmt.Sprintf("%s.%d", path, i), w[i], h[i], diffs)
		}
	default:
		if !reflect.DeepEqual(want, have) {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded %v, rendered %v", path, want, have))
		}
	}
}

// TestCanonicalMatchesStoredJob: what Nomad 2.0.5 stored for gpu-too-big
// (GET /v1/job/gpu-too-big) has the values compile sets explicitly
// (priority 50, datacenters ["*"], count 1), and our job after Nomad's own
// defaulting has the stored policies, resources and devices.
func TestCanonicalMatchesStoredJob(t *testing.T) {
	var stored api.Job
	if err := json.Unmarshal(readFixture(t, "get-job-gpu-too-big.json"), &stored); err != nil {
		t.Fatal(err)
	}
	job := mustJob(t, fixtureRun(3), Options{})
	job.Canonicalize()
	sg, jg := stored.TaskGroups[0], job.TaskGroups[0]
	pairs := []struct {
		what      string
		got, want any
	}{
		{"Priority", *job.Priority, *stored.Priority},
		{"Datacenters", job.Datacenters, stored.Datacenters},
		{"NodePool", *job.NodePool, *stored.NodePool},
		{"Type", *job.Type, *stored.Type},
		{"Count", *jg.Count, *sg.Count},
		{"ReschedulePolicy", jg.ReschedulePolicy, sg.ReschedulePolicy},
		{"RestartPolicy.Attempts", *jg.RestartPolicy.Attempts, *sg.RestartPolicy.Attempts},
		{"RestartPolicy.Mode", *jg.RestartPolicy.Mode, *sg.RestartPolicy.Mode},
		{"Resources.CPU", *jg.Tasks[0].Resources.CPU, *sg.Tasks[0].Resources.CPU},
		{"Resources.MemoryMB", *jg.Tasks[0].Resources.MemoryMB, *sg.Tasks[0].Resources.MemoryMB},
		{"Devices", jg.Tasks[0].Resources.Devices, sg.Tasks[0].Resources.Devices},
		{"Config", jsonValue(t, jg.Tasks[0].Config), jsonValue(t, sg.Tasks[0].Config)},
	}
	for _, p := range pairs {
		if !reflect.DeepEqual(jsonValue(t, p.got), jsonValue(t, p.want)) {
			t.Errorf("%s: ours %s, Nomad stored %s", p.what, jsonValue(t, p.got), jsonValue(t, p.want))
		}
	}
}

func jsonValue(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
