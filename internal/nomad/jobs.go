package nomad

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// enforceIndexPrefix starts Nomad's error when a register with EnforceIndex
// loses (Nomad answers it with a 500).
const enforceIndexPrefix = "Enforcing job modify index"

// IsCaravanJob reports whether caravan owns a job, by its meta.
func IsCaravanJob(meta map[string]string) bool {
	return meta[record.MetaManagedBy] == record.ManagedByValue
}

// Jobs lists every job in namespace (AllNamespaces for all; "" for the
// client's) with its meta, caravan's or not.
func (c *Client) Jobs(ctx context.Context, namespace string) ([]*api.JobListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	stubs, _, err := c.api.Jobs().ListOptions(&api.JobListOptions{Fields: &api.JobListFields{Meta: true}}, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: "list jobs", need: "list-jobs", ns: ns}, err)
	}
	return stubs, nil
}

// CaravanJobs lists the jobs caravan owns (job meta caravan_managed_by =
// caravan) in namespace (AllNamespaces for all). Nothing else is ever
// returned, so nothing else is ever touched.
func (c *Client) CaravanJobs(ctx context.Context, namespace string) ([]*api.JobListStub, error) {
	all, err := c.Jobs(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, j := range all {
		if IsCaravanJob(j.Meta) {
			out = append(out, j)
		}
	}
	return out, nil
}

// Job reads one job. A missing job gives an error that errors.Is ErrNotFound.
func (c *Client) Job(ctx context.Context, namespace, jobID string) (*api.Job, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	j, _, err := c.api.Jobs().Info(jobID, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("read job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "read-job", ns: ns}, err)
	}
	return j, nil
}

// RegisterJob submits job. With enforce, Nomad registers it only if the
// job's current JobModifyIndex equals modifyIndex (0: only if no such job
// exists); losing that race gives ErrConflict.
func (c *Client) RegisterJob(ctx context.Context, job *api.Job, enforce bool, modifyIndex uint64) (*api.JobRegisterResponse, error) {
	encoded, err := EncodeJob(job)
	if err != nil {
		return nil, fmt.Errorf("register job %q: encode it: %w", deref(job.ID), err)
	}
	return c.registerEncoded(ctx, job, encoded, enforce, modifyIndex)
}

// EncodeJob is job's JSON exactly as the api package sends it in a
// registration. Apply encodes each job once and passes the bytes both to
// CreateEncodedJob and into the run's record, instead of encoding the
// same job twice.
func EncodeJob(job *api.Job) ([]byte, error) {
	return json.Marshal(job)
}

// registerEncoded is RegisterJob with job already encoded: the request
// body is api.JobRegisterRequest's JSON, built around the encoded job.
func (c *Client) registerEncoded(ctx context.Context, job *api.Job, encoded []byte, enforce bool, modifyIndex uint64) (*api.JobRegisterResponse, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.jobNS(job)
	id := deref(job.ID)
	var resp api.JobRegisterResponse
	_, err := c.api.Raw().Write("/v1/jobs", bytes.NewReader(registerBody(encoded, enforce, modifyIndex)), &resp, c.w(ctx, ns))
	if err != nil {
		o := op{what: fmt.Sprintf("register job %q", id), thing: fmt.Sprintf("job %q", id), need: "submit-job", ns: ns}
		if _, body := httpStatus(err); strings.Contains(body, enforceIndexPrefix) {
			e := c.fail(o, err).(*Error)
			e.Kind = ErrConflict
			e.text = fmt.Sprintf("register job %q: it changed in Nomad at %s since caravan read it (%s); run the command again", id, c.address, body)
			return nil, e
		}
		return nil, c.fail(o, err)
	}
	return &resp, nil
}

// registerBody is the JSON of api.JobRegisterRequest{Job: job,
// EnforceIndex: enforce, JobModifyIndex: modifyIndex} with the job's JSON
// spliced in as it is: the api writes the other fields only when set.
func registerBody(encoded []byte, enforce bool, modifyIndex uint64) []byte {
	b := make([]byte, 0, len(encoded)+64)
	b = append(b, `{"Submission":null,"Job":`...)
	b = append(b, encoded...)
	if enforce {
		b = append(b, `,"EnforceIndex":true`...)
		if modifyIndex > 0 {
			b = append(b, `,"JobModifyIndex":`...)
			b = strconv.AppendUint(b, modifyIndex, 10)
		}
	}
	b = append(b, `,"Region":"","Namespace":"","SecretID":""}`...)
	return b
}

// CreateJob registers job only if no job with its ID exists (enforce index
// 0), which makes concurrent submissions of the same run safe. It returns
// created=false and no error when the job already exists and caravan owns it
// with the same run ID and spec hash (someone else submitted this run
// first). A job with that ID that caravan does not own, or that holds a
// different run, is an ErrConflict naming it.
func (c *Client) CreateJob(ctx context.Context, job *api.Job) (created bool, err error) {
	encoded, err := EncodeJob(job)
	if err != nil {
		return false, fmt.Errorf("register job %q: encode it: %w", deref(job.ID), err)
	}
	return c.CreateEncodedJob(ctx, job, encoded)
}

// CreateEncodedJob is CreateJob with job's JSON from EncodeJob already
// made; encoded must be EncodeJob(job).
func (c *Client) CreateEncodedJob(ctx context.Context, job *api.Job, encoded []byte) (created bool, err error) {
	_, err = c.registerEncoded(ctx, job, encoded, true, 0)
	if err == nil {
		return true, nil
	}
	if !isKind(err, ErrConflict) {
		return false, err
	}
	id := deref(job.ID)
	existing, gerr := c.Job(ctx, c.jobNS(job), id)
	if gerr != nil {
		return false, err
	}
	if !IsCaravanJob(existing.Meta) {
		return false, &Error{Kind: ErrConflict, Op: fmt.Sprintf("register job %q", id), Address: c.address, Namespace: c.jobNS(job),
			text: fmt.Sprintf("job ID %q already exists in namespace %q at %s and caravan does not own it (its meta lacks %s=%s); caravan never touches it: rename the experiment or remove that job",
				id, c.jobNS(job), c.address, record.MetaManagedBy, record.ManagedByValue)}
	}
	if existing.Meta[record.MetaSpecHash] != job.Meta[record.MetaSpecHash] {
		return false, &Error{Kind: ErrConflict, Op: fmt.Sprintf("register job %q", id), Address: c.address, Namespace: c.jobNS(job),
			text: fmt.Sprintf("job %q in namespace %q at %s is a caravan run with a different spec hash (%s, want %s); stop and purge it, or change the run",
				id, c.jobNS(job), c.address, short(existing.Meta[record.MetaSpecHash]), short(job.Meta[record.MetaSpecHash]))}
	}
	return false, nil
}

// PlanJob asks Nomad's scheduler what registering job would do, with the
// diff against the current version.
func (c *Client) PlanJob(ctx context.Context, job *api.Job) (*api.JobPlanResponse, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.jobNS(job)
	id := deref(job.ID)
	resp, _, err := c.api.Jobs().Plan(job, true, c.w(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("plan job %q", id), thing: fmt.Sprintf("job %q", id), need: "submit-job", ns: ns}, err)
	}
	return resp, nil
}

// StopJob stops a job without purging it: Nomad keeps it (Stop=true,
// status dead) until its garbage collector runs. It returns the eval ID.
func (c *Client) StopJob(ctx context.Context, namespace, jobID string) (string, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	evalID, _, err := c.api.Jobs().Deregister(jobID, false, c.w(ctx, ns))
	if err != nil {
		return "", c.fail(op{what: fmt.Sprintf("stop job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "submit-job", ns: ns}, err)
	}
	return evalID, nil
}

// PurgeJob deregisters and purges a job (for tests and e2e cleanup; caravan
// commands stop, they never purge).
func (c *Client) PurgeJob(ctx context.Context, namespace, jobID string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	_, _, err := c.api.Jobs().Deregister(jobID, true, c.w(ctx, ns))
	if err != nil {
		return c.fail(op{what: fmt.Sprintf("purge job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "submit-job", ns: ns}, err)
	}
	return nil
}

// JobSummary reads a job's per-group counts (Queued, Starting, Running, ...).
func (c *Client) JobSummary(ctx context.Context, namespace, jobID string) (*api.JobSummary, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	s, _, err := c.api.Jobs().Summary(jobID, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("read summary of job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "read-job", ns: ns}, err)
	}
	return s, nil
}

// JobAllocations lists a job's allocations, including stopped ones.
func (c *Client) JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	a, _, err := c.api.Jobs().Allocations(jobID, true, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("list allocations of job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "read-job", ns: ns}, err)
	}
	return a, nil
}

// JobEvaluations lists a job's evaluations (blocked ones carry
// FailedTGAllocs: why the job is not placed).
func (c *Client) JobEvaluations(ctx context.Context, namespace, jobID string) ([]*api.Evaluation, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	e, _, err := c.api.Jobs().Evaluations(jobID, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("list evaluations of job %q", jobID), thing: fmt.Sprintf("job %q", jobID), need: "read-job", ns: ns}, err)
	}
	return e, nil
}

func (c *Client) jobNS(job *api.Job) string {
	if job.Namespace != nil && *job.Namespace != "" {
		return *job.Namespace
	}
	return c.namespace
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func isKind(err, kind error) bool {
	e, ok := err.(*Error)
	return ok && e.Kind == kind
}
