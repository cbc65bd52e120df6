package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

func init() {
	register(command{
		name:     "show",
		synopsis: "Show a run: its record, job state, allocations, exit codes, task events and Nomad UI link",
		run:      runShow,
	})
}

// showDoc is show -json's document.
type showDoc struct {
	ID          string            `json:"id"`
	Namespace   string            `json:"namespace"`
	State       record.State      `json:"state"`
	UI          string            `json:"ui"`
	Record      *record.Run       `json:"record"`
	RecordError string            `json:"record_error,omitempty"`
	Outcome     *record.Outcome   `json:"outcome,omitempty"`
	Job         *api.Job          `json:"job"`
	Allocations []*api.Allocation `json:"allocations"`
	Summary     *api.JobSummary   `json:"summary,omitempty"`
	Evaluations []*api.Evaluation `json:"blocked_evaluations,omitempty"`
	// Wait is what a run with no job yet waits for.
	Wait *query.Wait  `json:"wait,omitempty"`
	Gate *record.Gate `json:"gate,omitempty"`
	// Moves are the run's moves (caravan migrate, the autoscaler).
	Moves []record.Move `json:"moves,omitempty"`
	stubs []*api.AllocationListStub
}

// gatherGated fills doc for a run that waits for others: the job it will
// be registered with, as its record will hold it, and how far the runs it
// waits for are.
func gatherGated(ctx context.Context, cl *nomad.Client, ri *query.Found, doc *showDoc) (*showDoc, error) {
	doc.Gate, doc.RecordError, doc.State = ri.Gate, "", record.StateWaiting
	var job api.Job
	if err := json.Unmarshal(ri.Gate.Job, &job); err == nil {
		if rec, err := query.RecordOf(&job); err == nil {
			rec.SubmittedAt = ri.Gate.CreatedAt
			doc.Record = rec
		}
	}
	runs, err := query.List(ctx, cl, query.Scope{Namespace: nomad.AllNamespaces, Project: ri.Project}, query.Brief)
	if err != nil {
		return nil, err
	}
	for _, r := range runs.Rows {
		if r.ID == ri.ID && r.Wait != nil {
			doc.Wait, doc.State = r.Wait, r.State
		}
	}
	return doc, nil
}

func runShow(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "show", "RUN")
	asJSON := fs.Bool("json", false, "print everything as one JSON document")
	nf := addNomadFlags(fs)
	cl, ri, code, ok := parseRunArg(ctx, env, fs, nf, args)
	if !ok {
		return code
	}
	doc, err := gatherShow(ctx, cl, ri)
	if err != nil {
		return nomadError(env, err)
	}
	if *asJSON {
		if code := writeJSON(env, doc, "write run"); code != ExitOK {
			return code
		}
	} else {
		writeShow(env.Stdout, doc, time.Now())
	}
	if ri.RecordErr != nil && errors.Is(ri.RecordErr, nomad.ErrCorrupt) {
		errorf(env, "%v", ri.RecordErr)
		return ExitError
	}
	return ExitOK
}

func gatherShow(ctx context.Context, cl *nomad.Client, ri *query.Found) (*showDoc, error) {
	// Allocations starts empty, not nil: -json prints [] for a run never
	// placed, so that scripts can iterate without a null check.
	doc := &showDoc{ID: ri.ID, Namespace: ri.Namespace, Record: ri.Record, Job: ri.Job, UI: cl.UIJobURL(ri.ID, ri.Namespace),
		Allocations: []*api.Allocation{}, Outcome: ri.Outcome}
	if ri.RecordErr != nil {
		doc.RecordError = ri.RecordErr.Error()
	}
	if ri.Gate != nil {
		return gatherGated(ctx, cl, ri, doc)
	}
	if moves, _, err := cl.Moves(ctx, ri.RecordRef); err == nil {
		doc.Moves = moves
	}
	if ri.Job == nil {
		doc.State = record.StateUnknown
		if ri.Outcome != nil {
			doc.State = ri.Outcome.State
		}
		return doc, nil
	}
	stubs, err := cl.JobAllocations(ctx, ri.Namespace, ri.ID)
	if err != nil {
		return nil, err
	}
	doc.stubs = stubs
	summary, err := cl.JobSummary(ctx, ri.Namespace, ri.ID)
	if err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return nil, err
	}
	doc.Summary = summary
	doc.State = query.RunState(ri.Job, summary, stubs)
	slices.SortFunc(stubs, func(a, b *api.AllocationListStub) int { return int(a.CreateIndex) - int(b.CreateIndex) })
	for _, s := range stubs {
		a, err := cl.Allocation(ctx, ri.Namespace, s.ID)
		if err != nil {
			if errors.Is(err, nomad.ErrNotFound) {
				continue // garbage-collected between the two calls
			}
			return nil, err
		}
		doc.Allocations = append(doc.Allocations, a)
	}
	if doc.State == record.StateQueued {
		evals, err := cl.JobEvaluations(ctx, ri.Namespace, ri.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range evals {
			if e.Status == "blocked" {
				doc.Evaluations = append(doc.Evaluations, e)
			}
		}
	}
	return doc, nil
}

// writeOutcome prints how a run ended, as the controller recorded it.
func writeOutcome(w io.Writer, o *record.Outcome) {
	if o == nil {
		return
	}
	fmt.Fprintf(w, "Ended:      %s: %s", o.State, o.Summary)
	if o.ExitCode != nil {
		fmt.Fprintf(w, " (exit code %d)", *o.ExitCode)
	}
	fmt.Fprintln(w)
	if !o.StartedAt.IsZero() && !o.FinishedAt.IsZero() {
		fmt.Fprintf(w, "Ran:        %s, from %s to %s, %s, %.2f GPU-hours\n", shortDuration(o.FinishedAt.Sub(o.StartedAt)),
			o.StartedAt.Format(time.RFC3339), o.FinishedAt.Format(time.RFC3339), plural(o.Attempts, "attempt"), o.GPUSeconds/3600)
	}
	if o.StoppedBy != "" || o.StopReason != "" {
		fmt.Fprintf(w, "Stopped:    by %s: %s\n", cmp.Or(o.StoppedBy, "someone"), cmp.Or(o.StopReason, "no reason given"))
	}
}

func writeShow(w io.Writer, d *showDoc, now time.Time) {
	fmt.Fprintf(w, "Run:        %s\n", d.ID)
	fmt.Fprintf(w, "State:      %s\n", d.State)
	fmt.Fprintf(w, "Namespace:  %s\n", d.Namespace)
	if d.Gate != nil {
		wait := "waiting for " + strings.Join(d.Gate.WaitFor, ", ")
		if d.Wait != nil {
			wait = d.Wait.Text()
		}
		fmt.Fprintf(w, "Waiting:    %s\n", wait)
		fmt.Fprintln(w, "Job:        none yet: the controller registers it once every run it waits for has completed")
	} else if d.Job != nil {
		fmt.Fprintf(w, "Nomad UI:   %s\n", d.UI)
		fmt.Fprintf(w, "Job:        status %s", deref(d.Job.Status))
		if d.Job.Stop != nil && *d.Job.Stop {
			fmt.Fprint(w, ", stopped")
		}
		fmt.Fprintf(w, ", node pool %s, priority %d\n", deref(d.Job.NodePool), derefInt(d.Job.Priority))
	} else {
		fmt.Fprintln(w, "Job:        gone from Nomad (garbage-collected); the record below is its history")
	}
	writeOutcome(w, d.Outcome)
	if r := d.Record; r != nil {
		fmt.Fprintf(w, "Experiment: %s\n", r.Experiment)
		fmt.Fprintf(w, "Pool:       %s (node pool %s), %s\n", r.Pool, r.NodePool, plural(r.GPUs, "GPU"))
		fmt.Fprintf(w, "Submitted:  %s (%s ago)", r.SubmittedAt.Format(time.RFC3339), shortDuration(now.Sub(r.SubmittedAt)))
		if by := submitter(r.SubmittedBy); by != "" {
			fmt.Fprintf(w, " by %s", by)
		}
		fmt.Fprintln(w)
		if r.RerunOf != "" {
			fmt.Fprintf(w, "Rerun of:   %s\n", r.RerunOf)
		}
		if r.ClonedFrom != "" {
			fmt.Fprintf(w, "Cloned:     from %s, with %s\n", r.ClonedFrom, record.ChangesText(r.Changed))
		}
		cfg := r.Config.File
		if r.Config.Line > 0 {
			cfg = fmt.Sprintf("%s:%d", cfg, r.Config.Line)
		}
		commit := r.Config.Commit
		if commit == "" {
			commit = "not in git"
		} else if r.Config.Dirty {
			commit += " (dirty)"
		}
		fmt.Fprintf(w, "Config:     %s in %s, commit %s\n", cfg, r.Config.Dir, commit)
		writeProvenance(w, r)
		fmt.Fprintf(w, "Spec hash:  %s\n", r.SpecHash)
		if len(r.Params) > 0 {
			fmt.Fprintln(w, "Params:")
			for _, k := range slices.Sorted(maps.Keys(r.Params)) {
				fmt.Fprintf(w, "  %s = %v\n", k, r.Params[k])
			}
		}
		if len(r.Spec) > 0 {
			fmt.Fprintln(w, "Resolved spec:")
			writeIndentedJSON(w, r.Spec)
		}
	} else if d.RecordError != "" {
		fmt.Fprintf(w, "Record:     unavailable: %s\n", d.RecordError)
	}
	writeMoveLines(w, d.Moves)
	writeAllocations(w, d.Allocations)
	for _, e := range d.Evaluations {
		if e == nil {
			continue
		}
		for tg, m := range e.FailedTGAllocs {
			fmt.Fprintf(w, "Waiting:    group %s cannot be placed: %s\n", tg, strings.Join(query.WaitReasons(m), "; "))
		}
	}
}

// submitter is who submitted a run as a person reads it: nobody for the
// stand-in token Nomad names as the caller when ACLs are off, which
// records written by older caravans carry ("ACLs disabled token").
func submitter(by string) string {
	if strings.EqualFold(by, "ACLs disabled token") || by == "acls-disabled" {
		return ""
	}
	return by
}

// writeProvenance prints what ran: the code, the image, and the caravan and
// Nomad that submitted it.
func writeProvenance(w io.Writer, r *record.Run) {
	if s := r.Source; s != nil {
		fmt.Fprintf(w, "Source:     %s at commit %s", s.Git, s.Commit)
		if s.Path != "" {
			fmt.Fprintf(w, ", in %s", s.Path)
		}
		fmt.Fprintln(w)
	}
	switch {
	case r.Image != "" && r.ImageDigest != "":
		fmt.Fprintf(w, "Image:      %s, pinned to %s\n", r.Image, r.ImageDigest)
	case r.Image != "":
		fmt.Fprintf(w, "Image:      %s, not pinned (image_pinning %s): the tag may name another image today\n", r.Image, cmpOr(r.ImagePinning, "unknown"))
	}
	if r.CaravanVersion != "" || r.NomadVersion != "" {
		fmt.Fprintf(w, "Software:   caravan %s, Nomad %s\n", cmpOr(r.CaravanVersion, "unknown"), cmpOr(r.NomadVersion, "unknown"))
	}
	if len(r.WaitFor) > 0 {
		fmt.Fprintf(w, "Waited for: %s\n", strings.Join(r.WaitFor, ", "))
	}
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// writeAllocations lists allocations with their tasks' states and events.
// Entries a response left null are skipped.
func writeAllocations(w io.Writer, allocs []*api.Allocation) {
	if len(allocs) > 0 {
		fmt.Fprintln(w, "Allocations:")
	}
	for _, a := range allocs {
		if a == nil {
			continue // a response with a null entry: nothing to show
		}
		fmt.Fprintf(w, "  %s  node %s  %s (desired %s)", shortID(a.ID), a.NodeName, a.ClientStatus, a.DesiredStatus)
		if a.NextAllocation != "" {
			fmt.Fprintf(w, ", replaced by %s", shortID(a.NextAllocation))
		}
		fmt.Fprintln(w)
		for _, name := range slices.Sorted(maps.Keys(a.TaskStates)) {
			ts := a.TaskStates[name]
			if ts == nil {
				continue
			}
			fmt.Fprintf(w, "    task %s: %s", name, ts.State)
			if code, ok := exitCode(ts); ok {
				fmt.Fprintf(w, ", exit code %d", code)
			}
			if ts.Failed {
				fmt.Fprint(w, ", failed")
			}
			fmt.Fprintln(w)
			for _, e := range ts.Events {
				if e == nil {
					continue
				}
				msg := e.DisplayMessage
				if msg == "" {
					msg = e.Message
				}
				fmt.Fprintf(w, "      %s  %-16s %s\n", time.Unix(0, e.Time).UTC().Format("2006-01-02T15:04:05Z"), e.Type, msg)
			}
		}
	}
}

// exitCode is the exit code of a task's last termination event.
func exitCode(ts *api.TaskState) (int, bool) {
	for i := len(ts.Events) - 1; i >= 0; i-- {
		e := ts.Events[i]
		if e != nil && e.Type == "Terminated" {
			if c, ok := e.Details["exit_code"]; ok {
				n, _ := strconv.Atoi(c)
				return n, true
			}
			return e.ExitCode, true
		}
	}
	return 0, false
}

func writeIndentedJSON(w io.Writer, raw json.RawMessage) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		fmt.Fprintf(w, "  %s\n", raw)
		return
	}
	b, _ := json.MarshalIndent(v, "  ", "  ")
	fmt.Fprintf(w, "  %s\n", b)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
