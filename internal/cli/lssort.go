package cli

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

// sortRows orders rows by key ("-" first: descending). A metric sorts best
// first by its goal (-best changes it), "-" reversing that; params sort as
// numbers when both are; rows without the param or metric come last.
func sortRows(rows []query.Run, key string, t *lsTable, goals map[string]string) error {
	desc := strings.HasPrefix(key, "-")
	c, err := resolveColumn(strings.TrimPrefix(key, "-"), rows)
	if err != nil {
		return err
	}
	var less func(a, b query.Run) int
	if m, ok := c.metric(); ok {
		goal := report.Goal(m, goals)
		if desc {
			goal = map[string]string{report.GoalMin: report.GoalMax, report.GoalMax: report.GoalMin}[goal]
		}
		desc = false
		less = func(a, b query.Run) int {
			va, oka := metricOf(t.usages[a.ID], m)
			vb, okb := metricOf(t.usages[b.ID], m)
			return missingLast(oka, okb, func() int {
				switch {
				case va == vb:
					return 0
				case report.Better(goal, va, vb):
					return -1
				}
				return 1
			})
		}
	} else if p, ok := c.param(); ok {
		less = func(a, b query.Run) int {
			va, vb := paramOf(a, p, ""), paramOf(b, p, "")
			return missingLast(va != "", vb != "", func() int { return compareValues(va, vb) })
		}
	} else {
		less = func(a, b query.Run) int { return compareField(c.key, a, b) }
	}
	slices.SortStableFunc(rows, func(a, b query.Run) int {
		if desc {
			return less(b, a)
		}
		return less(a, b)
	})
	return nil
}

func missingLast(oka, okb bool, both func() int) int {
	switch {
	case oka && okb:
		return both()
	case oka:
		return -1
	case okb:
		return 1
	}
	return 0
}

func compareField(key string, a, b query.Run) int {
	switch key {
	case "gpus":
		return cmp.Compare(a.GPUs, b.GPUs)
	case "priority":
		return cmp.Compare(a.Priority, b.Priority)
	case "age":
		return b.Submitted.Compare(a.Submitted)
	case "submitted":
		return a.Submitted.Compare(b.Submitted)
	case "runtime":
		now := time.Now()
		return cmp.Compare(a.Runtime(now), b.Runtime(now))
	case "experiment":
		return strings.Compare(a.Experiment, b.Experiment)
	case "state":
		return strings.Compare(string(a.State), string(b.State))
	case "pool":
		return strings.Compare(a.Pool, b.Pool)
	case "project":
		return strings.Compare(a.Project, b.Project)
	case "namespace":
		return strings.Compare(a.Namespace, b.Namespace)
	}
	return strings.Compare(a.ID, b.ID)
}

// compareValues orders two param values as numbers when both are.
func compareValues(a, b string) int {
	x, errx := strconv.ParseFloat(a, 64)
	y, erry := strconv.ParseFloat(b, 64)
	if errx == nil && erry == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

func paramOf(r query.Run, name, missing string) string {
	for _, p := range r.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return missing
}

// metricOf is the last value of metric name in u.
func metricOf(u *record.Usage, name string) (float64, bool) {
	if u == nil {
		return 0, false
	}
	for _, m := range u.Metrics {
		if m.Name == name && m.Count > 0 && !math.IsNaN(m.Last.Value) {
			return m.Last.Value, true
		}
	}
	return 0, false
}
