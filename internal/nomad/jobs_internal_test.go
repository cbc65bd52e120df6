package nomad

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestRegisterBodyIsTheAPIsRequest pins registerBody to the api package's
// own registration request, byte for byte, so that registering with an
// encoded job sends Nomad exactly what Jobs().RegisterOpts would.
func TestRegisterBodyIsTheAPIsRequest(t *testing.T) {
	job := api.NewBatchJob("r-1", "r-1", "global", 50)
	job.Meta = map[string]string{"caravan_managed_by": "caravan", "a<b": "x&y"}
	tg := api.NewTaskGroup("run", 1)
	tg.AddTask(api.NewTask("train", "raw_exec"))
	job.AddTaskGroup(tg)
	tests := []struct {
		name    string
		enforce bool
		index   uint64
	}{
		{"plain", false, 0},
		{"only if absent", true, 0},
		{"check index", true, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(&api.JobRegisterRequest{Job: job, EnforceIndex: tt.enforce, JobModifyIndex: tt.index})
			if err != nil {
				t.Fatal(err)
			}
			encoded, err := EncodeJob(job)
			if err != nil {
				t.Fatal(err)
			}
			if got := registerBody(encoded, tt.enforce, tt.index); !bytes.Equal(got, want) {
				t.Fatalf("registerBody:\n%s\nwant the api's request:\n%s", got, want)
			}
		})
	}
}
