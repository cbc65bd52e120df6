//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
)

// TestParamsReachTheTaskAsDeclared: Nomad interpolates ${...} in a task's
// driver config and env when it starts it. A run whose params are
// "${node.unique.name}" and "${env.HOME}" must still see exactly those
// strings, in CARAVAN_PARAM_*, in an env entry and as arguments, equal to
// what its job meta records.
func TestParamsReachTheTaskAsDeclared(t *testing.T) {
	s := newSuite(t)
	dir := s.dir()
	// $${ is HCL's literal ${: the params hold the interpolation syntax
	// itself, as a -var or a CARAVAN_VAR_* value could.
	writeFile(t, filepath.Join(dir, "interp.hcl"), fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "for v in \"$CARAVAN_PARAM_NODE\" \"$CARAVAN_PARAM_HOME\" \"$NODE_ENV\" \"$1\" \"$2\" \"$3\"; do printf '[%%s]\\n' \"$v\"; done",
             "sh", param.node, param.home, "x-${param.node}-%%%%{y}"]
  env     = { NODE_ENV = param.node }
  params  = { node = "$${node.unique.name}", home = "$${env.HOME}" }
  resources {
    cpu    = 100
    memory = "64MiB"
  }
  retries = 0
}
`, s.prefix+"interp"))
	s.must(0, "apply", dir)
	rows := s.waitStates("interp", 1, "complete")
	const node, home = "${node.unique.name}", "${env.HOME}"

	r := s.must(0, "logs", rows[0].ID)
	want := "[" + strings.Join([]string{node, home, node, node, home, "x-" + node + "-%{y}"}, "]\n[") + "]\n"
	if r.stdout != want {
		t.Errorf("the task saw\n%s\nwant\n%s", r.stdout, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, err := s.cl.Job(ctx, "", rows[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"node": node, "home": home} {
		if got := job.Meta[compile.MetaParamKey(name)]; got != v {
			t.Errorf("meta %s = %q, want %q", compile.MetaParamKey(name), got, v)
		}
		if !strings.Contains(job.Meta[record.MetaParams], v) {
			t.Errorf("meta %s = %s lacks %q", record.MetaParams, job.Meta[record.MetaParams], v)
		}
		if got := rows[0].param(name); got != v {
			t.Errorf("ls -json param %s = %q, want %q", name, got, v)
		}
	}
}
