package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job is one run of a trace.
type Job struct {
	ID string
	// Submit is the submission time relative to the start of the trace.
	Submit   time.Duration
	Duration time.Duration
	GPUs     int
	// Pool is the caravan pool the run asks for; "" means the default.
	Pool string
}

// ReadTrace reads a CSV trace. Two shapes are understood:
//
//   - Microsoft ITP (header job_id,submission_time,duration,num_gpu;
//     times in seconds);
//   - the generic shape: submit time, duration, GPUs and an optional pool,
//     with or without a header (submit,duration,gpus,pool in any order
//     when there is one). Times are seconds ("3600", "12.5") or Go
//     durations ("1h30m").
//
// Jobs come back sorted by submission time (stable for equal times).
func ReadTrace(r io.Reader) ([]Job, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	first, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("trace is empty: expected a CSV header or rows of submit,duration,gpus[,pool]")
	}
	if err != nil {
		return nil, fmt.Errorf("reading trace: %w", err)
	}
	col := map[string]int{"id": -1, "submit": 0, "duration": 1, "gpus": 2, "pool": 3}
	line := 1
	var jobs []Job
	if isHeader(first) {
		for k := range col {
			col[k] = -1
		}
		for i, h := range first {
			switch strings.ToLower(strings.TrimSpace(h)) {
			case "job_id", "id", "job":
				col["id"] = i
			case "submission_time", "submit", "submit_time", "submitted", "time":
				col["submit"] = i
			case "duration", "runtime", "run_time":
				col["duration"] = i
			case "num_gpu", "gpus", "gpu", "num_gpus":
				col["gpus"] = i
			case "pool":
				col["pool"] = i
			}
		}
		for _, k := range []string{"submit", "duration", "gpus"} {
			if col[k] < 0 {
				return nil, fmt.Errorf("trace header %q has no %s column: name the columns submit,duration,gpus[,pool] or use the ITP header job_id,submission_time,duration,num_gpu", strings.Join(first, ","), k)
			}
		}
	} else {
		j, err := parseRow(first, col, line)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading trace: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ = cr.FieldPos(0)
		j, err := parseRow(rec, col, line)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Submit < jobs[b].Submit })
	return jobs, nil
}

func isHeader(rec []string) bool {
	for _, f := range rec {
		if _, err := parseTime(f); err == nil {
			return false
		}
	}
	return true
}

func parseRow(rec []string, col map[string]int, line int) (Job, error) {
	get := func(k string) string {
		if i := col[k]; i >= 0 && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var j Job
	var err error
	if j.Submit, err = parseTime(get("submit")); err != nil {
		return j, fmt.Errorf("trace line %d: submit time: %w", line, err)
	}
	if j.Duration, err = parseTime(get("duration")); err != nil {
		return j, fmt.Errorf("trace line %d: duration: %w", line, err)
	}
	g, err := strconv.Atoi(get("gpus"))
	if err != nil || g < 0 {
		return j, fmt.Errorf("trace line %d: GPUs %q: want a whole number ≥ 0", line, get("gpus"))
	}
	j.GPUs = g
	j.Pool = get("pool")
	j.ID = get("id")
	if j.ID == "" {
		j.ID = "job-" + strconv.Itoa(line)
	}
	return j, nil
}

// parseTime reads seconds (integer or decimal) or a Go duration.
func parseTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > 1e9 {
			return 0, fmt.Errorf("%q: want seconds between 0 and 1e9", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want seconds (3600) or a duration (1h)", s)
	}
	return d, nil
}
