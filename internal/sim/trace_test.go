package sim

import (
	"strings"
	"testing"
	"time"
)

func TestReadTrace(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Job
		err  string
	}{
		{
			name: "ITP",
			in:   "job_id,submission_time,duration,num_gpu\nb,20,600,8\na,10,700,1\n",
			want: []Job{
				{ID: "a", Submit: 10 * time.Second, Duration: 700 * time.Second, GPUs: 1},
				{ID: "b", Submit: 20 * time.Second, Duration: 600 * time.Second, GPUs: 8},
			},
		},
		{
			name: "generic without header, durations and pool",
			in:   "0,1h,2,a100\n30.5,600,1\n",
			want: []Job{
				{ID: "job-1", Submit: 0, Duration: time.Hour, GPUs: 2, Pool: "a100"},
				{ID: "job-2", Submit: 30500 * time.Millisecond, Duration: 600 * time.Second, GPUs: 1},
			},
		},
		{
			name: "generic header in any order",
			in:   "pool,gpus,duration,submit\nh100,4,10m,5\n",
			want: []Job{{ID: "job-2", Submit: 5 * time.Second, Duration: 10 * time.Minute, GPUs: 4, Pool: "h100"}},
		},
		{name: "empty", in: "", err: "empty"},
		{name: "header without gpus", in: "submit,duration\n1,2\n", err: "no gpus column"},
		{name: "bad number", in: "submit,duration,gpus\n1,2,x\n", err: "line 2: GPUs"},
		{name: "negative time", in: "1,-5,1\n", err: "line 1: duration"},
		{name: "blank lines skipped", in: "1,2,1\n\n3,4,1\n", want: []Job{
			{ID: "job-1", Submit: time.Second, Duration: 2 * time.Second, GPUs: 1},
			{ID: "job-3", Submit: 3 * time.Second, Duration: 4 * time.Second, GPUs: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadTrace(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("job %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzReadTrace(f *testing.F) {
	f.Add("job_id,submission_time,duration,num_gpu\na,1,2,3\n")
	f.Add("0,1h,2,pool\n")
	f.Fuzz(func(t *testing.T, in string) {
		jobs, err := ReadTrace(strings.NewReader(in))
		if err != nil {
			return
		}
		for i, j := range jobs {
			if j.GPUs < 0 || j.Duration < 0 || j.Submit < 0 {
				t.Fatalf("job %d accepted with negative fields: %+v", i, j)
			}
			if i > 0 && jobs[i-1].Submit > j.Submit {
				t.Fatalf("jobs not sorted")
			}
		}
	})
}
