package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Limits on what the runs carry. Without them a 300-byte file (a 16 MiB
// local used 8 times in args, 100 runs) took 54 s and 1.1 GB to validate,
// and would have given jobs whose tasks cannot start: the kernel refuses
// an execve argument of 128 KiB or more.
const (
	// maxArgBytes bounds the command, one argument and one NAME=value
	// environment entry, the terminating NUL included: Linux's
	// MAX_ARG_STRLEN (32 pages of 4 KiB). Every param is also an entry,
	// CARAVAN_PARAM_<NAME>=value.
	maxArgBytes = 128 << 10
	// maxRunExecBytes bounds the command, args and environment of one
	// run together (caravan's CARAVAN_* entries included): half of the 2
	// MiB that Linux allows a process's arguments and environment with the
	// default 8 MiB stack, leaving room for what Nomad and the driver add.
	maxRunExecBytes = 1 << 20
	// maxRunSpecBytes bounds everything a run declares about its
	// execution, the document its ID is the hash of: the above, the
	// params as recorded in job meta, the image and the source.
	maxRunSpecBytes = 2 << 20
	// maxTotalRunBytes bounds the runs of one load together; the jobs of
	// a plan or a render are all held at once. A sweep of 100,000 real
	// runs stays below a tenth of it.
	maxTotalRunBytes = 256 << 20
)

// The names of caravan's task environment variables, as compile sets
// them; they count towards a run's size.
const (
	envRunIDName   = "CARAVAN_RUN_ID"
	envParamPrefix = "CARAVAN_PARAM_"
)

// describeMax caps each param value when a diagnostic names a run: the
// value itself may be what is too large.
const describeMax = 40

// describe names the current run by its params: "lr=0.1, batch=128".
func (r *runEval) describe() string {
	ps := make([]string, 0, len(r.names))
	for i, n := range r.names {
		v := r.cur[i].s
		if len(v) > describeMax {
			v = fmt.Sprintf("%.*s… (%d bytes)", describeMax, v, len(v))
		}
		ps = append(ps, n+"="+v)
	}
	if len(ps) == 0 {
		return "the run"
	}
	return "the run with " + strings.Join(ps, ", ")
}

// fixedBytes is what every run of e carries whatever its params: the
// strings of the experiment that enter its resolved spec.
func fixedBytes(e *Experiment) int {
	n := len(e.Name) + len(e.Pool) + len(e.Namespace) + len(e.Image) + len(e.Driver) + len(e.Resources.GPUModel)
	if e.Source != nil {
		n += len(e.Source.Git) + len(e.Source.Commit) + len(e.Source.Path)
	}
	for _, d := range e.DependsOn {
		n += len(d) + 1
	}
	return n
}

// checkSize measures run against the limits above and reports the first
// one it exceeds on the expression responsible; it returns false then.
// fixed is fixedBytes of the run's experiment.
func (r *runEval) checkSize(run *Run, t *runTemplate, fixed int) bool {
	exec := len(envRunIDName) + 1 + len(run.Experiment.Name) + 10
	if run.Command != "" {
		if len(run.Command)+1 > maxArgBytes {
			return r.tooLong(t.cmdRng, "Command too long", "command", len(run.Command))
		}
		exec += len(run.Command) + 1
	}
	for i, a := range run.Args {
		if len(a)+1 > maxArgBytes {
			return r.tooLong(t.argRange(i), "Argument too long", fmt.Sprintf("args[%d]", i), len(a))
		}
		exec += len(a) + 1
	}
	var long []string
	for k, v := range run.Env {
		n := len(k) + 1 + len(v) + 1
		if n > maxArgBytes {
			long = append(long, k)
		}
		exec += n
	}
	if len(long) > 0 {
		sort.Strings(long)
		k := long[0]
		return r.tooLong(t.envRng, "Environment variable too long", "env."+k, len(k)+1+len(run.Env[k]))
	}
	params := 0
	for i, n := range r.names {
		s := r.cur[i].s
		entry := len(envParamPrefix) + len(n) + 1 + len(s) + 1
		if entry > maxArgBytes {
			return r.tooLong(run.Experiment.DeclRange, "Parameter too long", "param."+n+" (the task gets it as "+envParamPrefix+strings.ToUpper(n)+")", len(s))
		}
		exec += entry
		params += len(n) + len(s) + 16
	}
	if exec > maxRunExecBytes {
		return r.tooLarge(run.Experiment.DeclRange, "Run too large", fmt.Sprintf(
			"The command, args and environment (params included) of %s add up to %d bytes; caravan allows at most %d bytes (1 MiB) per run, half of what Linux lets a process's arguments and environment take together, so that what Nomad adds still fits. Pass large inputs in files (through source or the image) rather than on the command line.",
			r.describe(), exec, maxRunExecBytes))
	}
	size := exec + params + fixed
	if size > maxRunSpecBytes {
		return r.tooLarge(run.Experiment.DeclRange, "Run too large", fmt.Sprintf(
			"What %s declares about its execution (command, args, env, params, image, source) adds up to %d bytes; caravan allows at most %d bytes (2 MiB) per run. Make the values smaller, or pass large inputs in files.",
			r.describe(), size, maxRunSpecBytes))
	}
	r.l.runBytes += size
	if r.l.runBytes > maxTotalRunBytes {
		return r.tooLarge(run.Experiment.DeclRange, "Configuration too large", fmt.Sprintf(
			"The runs of this configuration add up to more than %d bytes (256 MiB) by %s of experiment %q; caravan holds every run's job at once when it plans. Sweep fewer points, or make each run's args, env and params smaller.",
			maxTotalRunBytes, r.describe(), run.Experiment.Name))
	}
	return true
}

func (r *runEval) tooLong(rng hcl.Range, summary, what string, n int) bool {
	return r.tooLarge(rng, summary, fmt.Sprintf(
		"%s of %s is %d bytes; one argument or environment entry of a process can be at most %d bytes with its terminating NUL (128 KiB, Linux's limit for execve), so the task could not start. Pass large inputs in files (through source or the image) rather than on the command line.",
		what, r.describe(), n, maxArgBytes))
}

func (r *runEval) tooLarge(rng hcl.Range, summary, detail string) bool {
	r.failed = true
	r.l.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
	return false
}
