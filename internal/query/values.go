package query

import (
	"encoding/json"
	"strconv"
)

// priorityOf reads the priority of a job kept as JSON (0 when it has none).
func priorityOf(job json.RawMessage) int {
	var j struct{ Priority *int }
	if len(job) == 0 || json.Unmarshal(job, &j) != nil || j.Priority == nil {
		return 0
	}
	return *j.Priority
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return f
}

func atoiOr0(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
