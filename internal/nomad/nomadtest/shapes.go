package nomadtest

import (
	"embed"
	"encoding/json"
	"fmt"
	"sync"
)

// The fake answers in the shapes of real Nomad by starting every object
// from a recorded answer (shapes/, copied from shared/nomad-api-fixtures)
// and overriding the fields it models.

//go:embed shapes/*.json
var shapeFS embed.FS

var (
	shapeOnce sync.Once
	shapeDocs map[string]any
)

func loadShapes() {
	shapeDocs = map[string]any{}
	ents, err := shapeFS.ReadDir("shapes")
	if err != nil {
		panic(err)
	}
	for _, e := range ents {
		b, err := shapeFS.ReadFile("shapes/" + e.Name())
		if err != nil {
			panic(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			panic(fmt.Sprintf("nomadtest: shape %s: %v", e.Name(), err))
		}
		shapeDocs[e.Name()] = v
	}
}

// shapeOf returns a deep copy of a recorded document, or of one part of it
// selected by path elements (string keys, int indexes).
func shapeOf(file string, path ...any) map[string]any {
	shapeOnce.Do(loadShapes)
	v := shapeDocs[file]
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v = v.(map[string]any)[p]
		case int:
			v = v.([]any)[p]
		}
	}
	return deepCopy(v).(map[string]any)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// freeForm keys hold user maps (keys are data, not schema): they are kept
// as submitted, never completed from the template.
var freeForm = map[string]bool{
	"Meta": true, "Config": true, "Env": true, "Summary": true, "Items": true,
	"Attributes": true, "Links": true, "Drivers": true, "HostVolumes": true,
	"TaskStates": true, "DeviceStats": true, "Tasks": true, "TaskLifecycles": true,
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok || v == nil
}

// arrayDefaults are the arrays Nomad fills when a job leaves them null.
var arrayDefaults = map[string]any{"Datacenters": []any{"*"}}

// conform returns actual with exactly the template's keys, recursively:
// keys the template lacks are dropped (api-only fields such as Job.Migrate),
// keys actual lacks or leaves null take the template's value (Nomad's
// canonical defaults in a server-canonicalized job). Arrays are conformed
// element by element against the template's first element.
func conform(tmpl, actual any) any {
	switch t := tmpl.(type) {
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			if actual != nil {
				return actual
			}
			return deepCopy(t)
		}
		out := make(map[string]any, len(t))
		for k, tv := range t {
			av, present := a[k]
			switch {
			case freeForm[k] && isObject(tv):
				if present {
					out[k] = av
				} else {
					out[k] = nil
				}
			case (!present || av == nil) && arrayDefaults[k] != nil:
				out[k] = deepCopy(arrayDefaults[k])
			case !present || av == nil:
				if _, isArr := tv.([]any); isArr {
					out[k] = nil // an unset list stays unset (constraints!)
				} else {
					out[k] = deepCopy(tv)
				}
			default:
				out[k] = conform(tv, av)
			}
		}
		return out
	case []any:
		a, ok := actual.([]any)
		if !ok || len(t) == 0 {
			return actual
		}
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = conform(t[0], x)
		}
		return out
	default:
		return actual
	}
}
