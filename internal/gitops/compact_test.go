package gitops

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/hashicorp/nomad/api"
)

func TestStripNulls(t *testing.T) {
	tests := map[string]string{
		`{"a":null}`:       `{}`,
		`{"a":1,"b":null}`: `{"a":1}`,
		`{"a":null,"b":null,"c":[null,{"d":null}]}`: `{"c":[null,{}]}`,
		`{"s":"x\":null,","t":null}`:                `{"s":"x\":null,"}`,
		`{"s":"\\","n":null,"m":"null"}`:            `{"s":"\\","m":"null"}`,
		`[1,"a",null]`:                              `[1,"a",null]`,
	}
	for in, want := range tests {
		if got := string(stripNulls([]byte(in))); got != want {
			t.Errorf("stripNulls(%s) = %s, want %s", in, got, want)
		}
		var v any
		if err := json.Unmarshal(stripNulls([]byte(in)), &v); err != nil {
			t.Errorf("stripNulls(%s) is not JSON: %v", in, err)
		}
	}
}

func FuzzStripNulls(f *testing.F) {
	for _, s := range []string{`{"a":null}`, `{"a":{"b":null,"c":"\"x\":null"}}`, `[null]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		compact, _ := json.Marshal(v)
		var a, b any
		if err := json.Unmarshal(stripNulls(compact), &b); err != nil {
			t.Fatalf("stripNulls(%s) broke JSON: %v", compact, err)
		}
		json.Unmarshal(compact, &a)
		if !reflect.DeepEqual(dropNulls(a), b) {
			t.Fatalf("stripNulls(%s) changed more than nulls", compact)
		}
	})
}

// dropNulls is the slow reference: remove null members of every object.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
			} else {
				x[k] = dropNulls(e)
			}
		}
	case []any:
		for i := range x {
			x[i] = dropNulls(x[i])
		}
	}
	return v
}

func TestStripNullsKeepsTheJob(t *testing.T) {
	job := desired("a", 1)[0].Job
	full, _ := json.Marshal(job)
	slim := stripNulls(full)
	var a, b api.Job
	json.Unmarshal(full, &a)
	if err := json.Unmarshal(slim, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the job changed:\n%s\n%s", full, slim)
	}
	if len(slim) >= len(full) {
		t.Errorf("nothing stripped: %d → %d bytes", len(full), len(slim))
	}
}
