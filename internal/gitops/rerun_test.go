package gitops

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func TestRerunIDDeterministicAndDistinct(t *testing.T) {
	a1, a1again, a2 := RerunID("train-1a2b3c4d", 1), RerunID("train-1a2b3c4d", 1), RerunID("train-1a2b3c4d", 2)
	if a1 != a1again || a1 == a2 || a1 == "train-1a2b3c4d" {
		t.Fatalf("rerun IDs %s %s %s", a1, a1again, a2)
	}
	if !strings.HasPrefix(a1, "train-") || len(a1) != len("train-")+8 {
		t.Errorf("rerun ID %q is not <experiment>-<8 hex>", a1)
	}
	if record.ExperimentOf(RerunID("my-exp-1a2b3c4d", 1)) != "my-exp" {
		t.Error("experiment with dashes lost")
	}
}

func TestRerunCopiesTheRecordedJob(t *testing.T) {
	d := desired("train", 1)[0]
	d.Job.TaskGroups[0].Tasks[0].Env = map[string]string{compile.EnvRunID: d.ID, "CARAVAN_PARAM_LR": "0.1"}
	raw, _ := json.Marshal(d.Job)
	rec := &record.Run{RunID: d.ID, Experiment: "train", Job: raw, SpecHash: d.SpecHash, Params: map[string]any{"lr": 0.1}}
	newID := RerunID(d.ID, 1)
	job, err := Rerun(rec, newID)
	if err != nil {
		t.Fatal(err)
	}
	if *job.ID != newID || *job.Name != newID || job.Meta[record.MetaRunID] != newID || job.Meta[record.MetaRerunOf] != d.ID || job.Meta[record.MetaOrigin] != record.OriginRerun {
		t.Errorf("identity not changed: %v %v", *job.ID, job.Meta)
	}
	if env := job.TaskGroups[0].Tasks[0].Env; env[compile.EnvRunID] != newID || env["CARAVAN_PARAM_LR"] != "0.1" {
		t.Errorf("env = %v", env)
	}
	if d.Job.TaskGroups[0].Tasks[0].Env[compile.EnvRunID] != d.ID {
		t.Error("Rerun changed the original job")
	}
	// Everything but identity is the recorded job.
	var orig, again map[string]any
	json.Unmarshal(raw, &orig)
	b, _ := json.Marshal(job)
	json.Unmarshal(b, &again)
	for _, k := range []string{"ID", "Name", "Meta", "TaskGroups"} {
		delete(orig, k)
		delete(again, k)
	}
	if !reflect.DeepEqual(orig, again) {
		t.Errorf("job changed beyond identity:\n%v\n%v", orig, again)
	}
	// Its record, written by the controller from the job, says what it
	// reproduces.
	if nr, err := query.RecordOf(job); err != nil || nr.RunID != newID || nr.RerunOf != d.ID || nr.SpecHash != d.SpecHash || nr.Params["lr"] != 0.1 {
		t.Errorf("record of the rerun: %+v %v", nr, err)
	}
	if _, err := Rerun(&record.Run{RunID: "x-1"}, "x-2"); err == nil {
		t.Error("rerun of a record without a job succeeded")
	}
	if _, err := Rerun(&record.Run{RunID: "x-1", Job: json.RawMessage(`"nope"`)}, "x-2"); err == nil {
		t.Error("rerun of a record with a corrupt job succeeded")
	}
}
