package query

import (
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

func TestRunState(t *testing.T) {
	str := func(s string) *string { return &s }
	job := func(status string, stop bool) *api.Job {
		s := stop
		return &api.Job{ID: str("r"), Status: str(status), Stop: &s}
	}
	summary := func(queued int) *api.JobSummary {
		return &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Queued: queued}}}
	}
	alloc := func(client, desired string, mods ...func(*api.AllocationListStub)) *api.AllocationListStub {
		a := &api.AllocationListStub{ID: client + "-" + desired, ClientStatus: client, DesiredStatus: desired, TaskGroup: "run"}
		for _, m := range mods {
			m(a)
		}
		return a
	}
	replacedBy := func(id string) func(*api.AllocationListStub) {
		return func(a *api.AllocationListStub) { a.NextAllocation = id }
	}
	killed := func(a *api.AllocationListStub) {
		a.TaskStates = map[string]*api.TaskState{"train": {Events: []*api.TaskEvent{{Type: "Started"}, {Type: "Killing"}, {Type: "Killed"}}}}
	}
	rescheduled := func(a *api.AllocationListStub) {
		a.RescheduleTracker = &api.RescheduleTracker{Events: []*api.RescheduleEvent{{PrevAllocID: "old"}}}
	}

	tests := []struct {
		name    string
		job     *api.Job
		summary *api.JobSummary
		allocs  []*api.AllocationListStub
		want    record.State
	}{
		{"queued, never placed", job("pending", false), summary(1), nil, record.StateQueued},
		{"registered, not evaluated yet", job("pending", false), summary(0), nil, record.StateQueued},
		{"placed, pending", job("running", false), summary(0), []*api.AllocationListStub{alloc("pending", "run")}, record.StateStarting},
		{"running", job("running", false), summary(0), []*api.AllocationListStub{alloc("running", "run")}, record.StateRunning},
		{"complete", job("dead", false), summary(0), []*api.AllocationListStub{alloc("complete", "run")}, record.StateComplete},
		{"failed", job("dead", false), summary(0), []*api.AllocationListStub{alloc("failed", "run")}, record.StateFailed},
		{"stopped at its timeout (max_run_duration) fails", job("dead", false), summary(0), []*api.AllocationListStub{
			alloc("complete", "run", killed, func(a *api.AllocationListStub) { a.ClientDescription = "allocation exceeded max_run_duration" })}, record.StateFailed},
		{"lost", job("dead", false), summary(0), []*api.AllocationListStub{alloc("lost", "stop")}, record.StateLost},
		{"disconnected counts as lost", job("running", false), summary(0), []*api.AllocationListStub{alloc("unknown", "run")}, record.StateLost},
		{"rescheduled: failed replaced by running", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("failed", "run", replacedBy("new")), alloc("running", "run", rescheduled)}, record.StateRunning},
		{"moving: the old allocation checkpoints", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("running", "stop", replacedBy("pending-run")), alloc("pending", "run")}, record.StateMoving},
		{"moving: checkpointed, the replacement starts", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("complete", "stop", replacedBy("pending-run")), alloc("pending", "run")}, record.StateMoving},
		{"moved: the replacement runs", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("complete", "stop", replacedBy("running-run")), alloc("running", "run")}, record.StateRunning},
		{"rescheduled: lost replaced by pending", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("lost", "stop", replacedBy("new")), alloc("pending", "run", rescheduled)}, record.StateStarting},
		{"rescheduled, replacement failed too", job("dead", false), summary(0), []*api.AllocationListStub{
			alloc("failed", "run", replacedBy("new")), alloc("failed", "run", rescheduled)}, record.StateFailed},
		{"failed, reschedule pending", job("pending", false), summary(0), []*api.AllocationListStub{
			alloc("failed", "run", func(a *api.AllocationListStub) { a.FollowupEvalID = "ev" })}, record.StateQueued},
		{"lost, replacement queued for capacity", job("pending", false), summary(1), []*api.AllocationListStub{
			alloc("lost", "stop", replacedBy(""))}, record.StateQueued},
		{"stopped while running", job("dead", true), summary(0), []*api.AllocationListStub{alloc("complete", "stop", killed)}, record.StateStopped},
		{"stopped while still stopping", job("running", true), summary(0), []*api.AllocationListStub{alloc("running", "stop")}, record.StateStopped},
		{"stopped while queued", job("dead", true), summary(0), nil, record.StateStopped},
		{"stopped after it completed keeps its outcome", job("dead", true), summary(0), []*api.AllocationListStub{alloc("complete", "run")}, record.StateComplete},
		{"stopped after it failed keeps its outcome", job("dead", true), summary(0), []*api.AllocationListStub{alloc("failed", "run")}, record.StateFailed},
		{"purged job, record only", nil, nil, nil, record.StateUnknown},
		{"drain-migrated: stopped alloc replaced by running", job("running", false), summary(0), []*api.AllocationListStub{
			alloc("complete", "stop", killed, replacedBy("new")), alloc("running", "run", rescheduled)}, record.StateRunning},
		{"count 2: one running, one queued", job("running", false), summary(1), []*api.AllocationListStub{alloc("running", "run")}, record.StateRunning},
		{"summary only: running", job("running", false), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Running: 1, Failed: 1}}}, nil, record.StateRunning},
		{"summary only: complete", job("dead", false), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Complete: 1}}}, nil, record.StateComplete},
		{"summary only: failed", job("dead", false), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Failed: 1}}}, nil, record.StateFailed},
		{"summary only: lost", job("dead", false), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Lost: 1}}}, nil, record.StateLost},
		{"summary only: starting", job("running", false), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Starting: 1}}}, nil, record.StateStarting},
		{"summary only: stopping", job("running", true), &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Running: 1}}}, nil, record.StateStopped},
		{"count 2: one complete, one failed", job("dead", false), summary(0), []*api.AllocationListStub{alloc("complete", "run"), alloc("failed", "run")}, record.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunState(tt.job, tt.summary, tt.allocs); got != tt.want {
				t.Errorf("RunState = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range record.States {
		want := s != record.StateQueued && s != record.StateStarting && s != record.StateRunning && s != record.StateMoving &&
			s != record.StateWaiting && s != record.StateBlocked
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
}
