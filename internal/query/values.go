package query

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// priorityOf reads the priority of a job kept as JSON (0 when it has
// none). It reads the object's keys until Priority, which api.Job writes
// among its first fields, rather than the whole job: listings call it for
// every run known only from its record.
func priorityOf(job json.RawMessage) int {
	dec := json.NewDecoder(bytes.NewReader(job))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0
		}
		if t == "Priority" {
			var p *int
			if dec.Decode(&p) != nil || p == nil {
				return 0
			}
			return *p
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
	}
	return 0
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
