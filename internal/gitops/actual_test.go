package gitops

import (
	"reflect"
	"testing"

	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/query"
)

func TestActual(t *testing.T) {
	runs := []query.Run{
		{ID: "a-00000000", Project: "p", Experiment: "a", Namespace: "default", JobStatus: "running", HasJob: true, HasRecord: true,
			Meta: map[string]string{"caravan_managed_by": "caravan", "caravan_origin": "apply"}},
		{ID: "a-00000001", Project: "p", Experiment: "a", Namespace: "default", JobStatus: "running", HasJob: true,
			Meta: map[string]string{"caravan_managed_by": "caravan", "caravan_rerun_of": "a-00000000"}},
		{ID: "b-11111111", Experiment: "b", Namespace: "ns2", HasRecord: true},
	}
	got := Actual(runs)
	want := []plan.ActualRun{
		{ID: "a-00000000", Project: "p", Experiment: "a", Namespace: "default", Status: "running", HasJob: true, HasRecord: true},
		{ID: "a-00000001", Project: "p", Experiment: "a", Namespace: "default", Status: "running", HasJob: true, AdHoc: true},
		{ID: "b-11111111", Experiment: "b", Namespace: "ns2", HasRecord: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Actual =\n%+v\nwant\n%+v", got, want)
	}
}
