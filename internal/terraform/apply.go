package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Apply makes the state hold exactly nodes: ApplyWith without the
// autoscaler's safeguards.
func (w *Workspace) Apply(ctx context.Context, nodes []string) (ApplyResult, error) {
	return w.ApplyWith(ctx, ApplyRequest{Nodes: nodes})
}

// ApplyWith makes the state hold exactly req.Nodes: it writes the
// variables, runs init when the root module changed, settles tainted
// objects (see settleTainted), plans, and applies the plan when it has
// changes. The context cancels Terraform gracefully (an interrupt, after
// which Terraform saves what it created).
func (w *Workspace) ApplyWith(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	nodes := req.Nodes
	if w.opts.ReadOnly {
		return ApplyResult{}, fmt.Errorf("pool %q: read-only workspace (dry run): not applying %v", w.opts.Pool, nodes)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.tighten()
	start := time.Now()
	res := ApplyResult{}
	// Whatever goes wrong below, the next apply reads the state afresh:
	// a failed creation leaves tainted objects behind.
	known := w.known
	ok := false
	defer func() {
		if !ok {
			w.known = nil
		}
	}()
	vars, err := renderVars(nodes, w.opts.Vars)
	if err != nil {
		return res, fmt.Errorf("pool %q: %w", w.opts.Pool, err)
	}
	if err := w.ensureInit(ctx); err != nil {
		return res, err
	}
	if err := writeFileAtomic(filepath.Join(w.dir, VarsFile), vars); err != nil {
		return res, fmt.Errorf("pool %q: write %s: %w", w.opts.Pool, VarsFile, err)
	}
	tf, out, errw, err := w.terraform()
	if err != nil {
		return res, err
	}
	if err := w.settleTainted(ctx, tf, errw, known, req); err != nil {
		return res, err
	}
	changed, err := w.planAndApply(ctx, tf, out, errw, req)
	res.Changed = changed
	if err != nil {
		return res, err
	}
	st, err := w.nodes(ctx)
	res.Nodes = st.Nodes
	res.Took = time.Since(start)
	if err != nil {
		return res, err
	}
	want := append([]string{}, nodes...)
	sort.Strings(want)
	if !slices.Equal(slices.Compact(want), res.Nodes) {
		return res, fmt.Errorf("pool %q: after apply the state holds %v, not the %v asked for; the module %s must create one resource per name keyed by the name (for_each = var.nodes)",
			w.opts.Pool, res.Nodes, want, w.opts.Module)
	}
	ok = true
	w.log.Info("terraform applied", "changed", changed, "nodes", len(res.Nodes), "took", res.Took.Round(time.Millisecond))
	return res, nil
}

// planAndApply plans, refuses a plan that would destroy a kept machine,
// checks the fence and applies the saved plan.
func (w *Workspace) planAndApply(ctx context.Context, tf *tfexec.Terraform, out, errw *lineLogger, req ApplyRequest) (bool, error) {
	lock := tfexec.LockTimeout(w.opts.LockTimeout.String())
	planFile := filepath.Join(w.dir, "caravan.tfplan")
	defer os.Remove(planFile)
	changed, err := tf.Plan(ctx, tfexec.Out(planFile), tfexec.Lock(true), lock)
	out.Flush()
	errw.Flush()
	if err != nil && needsInit(err) && ctx.Err() == nil {
		// The module changed underneath (a new provider or module call):
		// init again once, then plan again.
		w.log.Info("terraform asks for init; the module changed", "err", condense(err.Error()))
		w.initKey = ""
		_ = os.Remove(filepath.Join(w.dir, ".caravan-init"))
		if err := w.ensureInit(ctx); err != nil {
			return false, err
		}
		changed, err = tf.Plan(ctx, tfexec.Out(planFile), tfexec.Lock(true), lock)
		out.Flush()
		errw.Flush()
	}
	if err != nil {
		return false, w.fail("plan", err, errw)
	}
	if !changed {
		return false, nil
	}
	plan, err := tf.ShowPlanFile(ctx, planFile)
	errw.Flush()
	if err != nil {
		return true, w.fail("show plan", err, errw)
	}
	if bad := destroysKept(plan, setOf(req.Nodes), setOf(req.Registered)); len(bad) > 0 {
		return true, fmt.Errorf("pool %q: not applying: the plan would destroy %s, which belong to machines caravan keeps and that may run work. "+
			"A change to the module %s or its vars forces their replacement; make the module ignore it for existing machines (lifecycle { ignore_changes = [...] }), "+
			"or drain and scale in those nodes so that new machines pick it up",
			w.opts.Pool, strings.Join(bad, ", "), w.opts.Module)
	}
	if req.Fence != nil {
		if err := req.Fence(ctx); err != nil {
			return true, fmt.Errorf("pool %q: not applying: %w", w.opts.Pool, err)
		}
	}
	err = tf.Apply(ctx, tfexec.DirOrPlan(planFile), tfexec.Lock(true), lock)
	out.Flush()
	errw.Flush()
	if err != nil {
		return true, w.fail("apply", err, errw)
	}
	return true, nil
}

// settleTainted untaints, before planning, the tainted objects Terraform
// must not replace: those of names whose machines registered with Nomad
// (they may run work; the creation step that failed did not stop them),
// and those of names leaving the set, because Terraform skips the
// destroy-time provisioners of tainted objects and the module's own
// clean-up (local-pool stops its agent there) would never run. The
// tainted objects of other kept names are left for Terraform to replace:
// that is the retry of a creation that failed.
func (w *Workspace) settleTainted(ctx context.Context, tf *tfexec.Terraform, errw *lineLogger, known *NodeState, req ApplyRequest) error {
	if known != nil && len(known.Tainted) == 0 {
		return nil
	}
	st, err := w.nodes(ctx)
	if err != nil {
		return err
	}
	keep, registered := setOf(req.Nodes), setOf(req.Registered)
	fenced := false
	for _, name := range st.Tainted {
		why := ""
		switch {
		case registered[name]:
			why = "its machine registered with Nomad and may run work: kept, not replaced"
		case !keep[name]:
			why = "it leaves the set: untainted so that the module's destroy steps run"
		default:
			continue
		}
		if req.Fence != nil && !fenced {
			if err := req.Fence(ctx); err != nil {
				return fmt.Errorf("pool %q: not untainting %s: %w", w.opts.Pool, name, err)
			}
			fenced = true
		}
		for _, addr := range st.taintedAt[name] {
			err := tf.Untaint(ctx, addr, tfexec.Lock(true), tfexec.LockTimeout(w.opts.LockTimeout.String()))
			errw.Flush()
			if err != nil {
				return w.fail("untaint "+addr, err, errw)
			}
		}
		w.log.Info("untainted a machine whose creation had failed", "node", name, "why", why)
	}
	return nil
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
