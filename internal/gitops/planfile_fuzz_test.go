package gitops

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadPlan: apply -plan reads a file that came from a CI artifact and
// may have been edited. Whatever it holds, ReadPlan returns a plan or an
// error; a plan it accepts can be used (declared runs, freshness check)
// and written back to a file it reads again.
func FuzzReadPlan(f *testing.F) {
	f.Add([]byte(`{"version":1,"experiments":[]}`))
	f.Add([]byte(`{"version":1,"experiments":[{"name":"e","create":[{"id":"e-1","job":{"ID":"e-1"},"record":{"run_id":"e-1"}}],"removed":[{"id":"e-0"}]}],"basis":{"actual":3}}`))
	f.Add([]byte(`{"version":1,"experiments":[{"create":[{"id":"x"}]}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[` + strings.Repeat(`[`, 5000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPlan(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		_ = p.Declared()
		_ = p.WithoutJobs()
		_ = CheckFresh(p, nil)
		var buf bytes.Buffer
		if err := WritePlan(&buf, p); err != nil {
			t.Fatalf("an accepted plan does not write back: %v", err)
		}
		if _, err := ReadPlan(&buf); err != nil {
			t.Fatalf("a plan written back is not read again: %v\n%s", err, buf.Bytes())
		}
	})
}
