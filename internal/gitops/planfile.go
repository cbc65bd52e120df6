package gitops

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// ErrStale is returned by CheckFresh when a saved plan no longer describes
// the cluster.
var ErrStale = errors.New("saved plan is stale")

// ErrTampered is returned by ReadPlan when a saved plan is not byte for
// byte what caravan plan wrote: a job or a list was edited, or
// the plan was signed with another key.
var ErrTampered = errors.New("saved plan was changed after caravan plan wrote it")

// Digest algorithms of a saved plan.
const (
	// DigestSHA256 binds the plan's content to its digest: it catches hand
	// edits and corruption, but anyone can compute it for an edited plan.
	DigestSHA256 = "sha256"
	// DigestHMAC is keyed with CARAVAN_PLAN_KEY: only a holder of the key
	// can produce it, so an edited plan cannot be made to pass.
	DigestHMAC = "hmac-sha256"
)

// WithoutJobs returns a copy of the plan without the compiled jobs, for
// -json output that a person or a CI step reads.
func (p *RunPlan) WithoutJobs() *RunPlan {
	cp := *p
	cp.Digest, cp.DigestAlg, cp.Snapshot = "", "", nil
	cp.Experiments = make([]ExperimentPlan, len(p.Experiments))
	for i, e := range p.Experiments {
		e.Create = stripped(e.Create)
		cp.Experiments[i] = e
	}
	return &cp
}

func stripped(cs []Change) []Change {
	if cs == nil {
		return nil
	}
	out := make([]Change, len(cs))
	for i, c := range cs {
		c.Job, c.Digest = nil, ""
		out[i] = c
	}
	return out
}

// WritePlan saves a plan, with its jobs, for apply -plan. Each run's
// change carries the digest of its job, and the plan the
// digest of everything in it: an HMAC with key when key is not empty,
// else a SHA-256. p itself is not modified.
func WritePlan(w io.Writer, p *RunPlan, key []byte) error {
	// Digests are computed over the plan as ReadPlan will see it: decoded
	// from JSON (numbers in job configs become float64, and so on), so
	// that both sides hash the same bytes.
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	var cp RunPlan
	if err := json.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	if err := seal(&cp, key); err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(&cp)
}

// ReadPlan loads a saved plan, checks that this caravan can apply it, and
// that it is exactly what caravan plan wrote: every run's job matches its
// digest and the plan matches its own (keyed with key when
// the plan was signed). An edited plan gives ErrTampered naming what
// changed.
func ReadPlan(r io.Reader, key []byte) (*RunPlan, error) {
	var p RunPlan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a caravan plan file (%w); write one with `caravan plan -out FILE`", err)
	}
	if p.Version != PlanVersion {
		return nil, fmt.Errorf("plan file format version %d, this caravan reads version %d; plan again with this caravan", p.Version, PlanVersion)
	}
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			if c.Job == nil {
				return nil, fmt.Errorf("plan file lacks the job of run %s (was it written with -json instead of -out?); plan again with -out", c.ID)
			}
		}
	}
	if err := verify(&p, key); err != nil {
		return nil, err
	}
	if err := checkConsistent(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// seal fills the change digests and the plan digest.
func seal(p *RunPlan, key []byte) error {
	for i := range p.Experiments {
		cs := p.Experiments[i].Create
		for j := range cs {
			d, err := changeDigest(cs[j])
			if err != nil {
				return err
			}
			cs[j].Digest = d
		}
	}
	p.DigestAlg = DigestSHA256
	if len(key) > 0 {
		p.DigestAlg = DigestHMAC
	}
	d, err := planDigest(p, key)
	if err != nil {
		return err
	}
	p.Digest = d
	return nil
}

// verify checks a decoded plan's digests; see ReadPlan.
func verify(p *RunPlan, key []byte) error {
	const replan = "run `caravan plan -out FILE` again and apply the new file; a saved plan is applied exactly as caravan plan wrote it"
	switch {
	case p.Digest == "":
		return fmt.Errorf("%w: the plan file has no digest; %s", ErrTampered, replan)
	case p.DigestAlg == DigestHMAC && len(key) == 0:
		return fmt.Errorf("the plan file is signed (%s), but CARAVAN_PLAN_KEY is not set, so the signature cannot be checked; set CARAVAN_PLAN_KEY to the key caravan plan had", DigestHMAC)
	case p.DigestAlg != DigestHMAC && len(key) > 0:
		return fmt.Errorf("%w: CARAVAN_PLAN_KEY is set but the plan file is not signed with it (digest %q); run `caravan plan -out FILE` with CARAVAN_PLAN_KEY set", ErrTampered, p.DigestAlg)
	case p.DigestAlg != DigestHMAC && p.DigestAlg != DigestSHA256:
		return fmt.Errorf("%w: unknown digest algorithm %q; %s", ErrTampered, p.DigestAlg, replan)
	}
	var changed []string
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			d, err := changeDigest(c)
			if err != nil {
				return err
			}
			if d != c.Digest {
				changed = append(changed, c.ID)
			}
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: the job of run %s differs from what plan compiled; %s", ErrTampered, strings.Join(changed, ", "), replan)
	}
	want, err := planDigest(p, key)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(p.Digest)) {
		what := "the plan's runs, lists or basis differ from what plan computed"
		if p.DigestAlg == DigestHMAC {
			what += ", or it was signed with another CARAVAN_PLAN_KEY"
		}
		return fmt.Errorf("%w: %s; %s", ErrTampered, what, replan)
	}
	return nil
}

// checkConsistent refuses a change whose job and ID disagree, which no
// plan computed by caravan contains.
func checkConsistent(p *RunPlan) error {
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			jobID := deref(c.Job.ID)
			switch {
			case jobID != c.ID || c.Job.Meta[record.MetaRunID] != c.ID:
				return fmt.Errorf("%w: run %s carries job %q (run ID meta %q); run `caravan plan -out FILE` again", ErrTampered, c.ID, jobID, c.Job.Meta[record.MetaRunID])
			case c.Job.Meta[record.MetaSpecHash] != c.SpecHash:
				return fmt.Errorf("%w: the spec hash of run %s differs between its job and the plan; run `caravan plan -out FILE` again", ErrTampered, c.ID)
			}
		}
	}
	return nil
}

// changeDigest is the SHA-256 of a change's JSON without its digest.
func changeDigest(c Change) (string, error) {
	c.Digest = ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("digest of run %s: %w", c.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// planDigest hashes the plan's JSON without its digest (the change
// digests included), keyed when key is not empty.
func planDigest(p *RunPlan, key []byte) (string, error) {
	cp := *p
	cp.Digest = ""
	var h hash.Hash
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	} else {
		h = sha256.New()
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(&cp); err != nil {
		return "", fmt.Errorf("digest of plan: %w", err)
	}
	h.Write(buf.Bytes())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckFresh compares a saved plan's basis with the runs now in Nomad and
// returns ErrStale, with what changed, when applying it would no longer do
// what it showed. On success it refreshes which no-longer-declared runs are
// still active, since a run that finished meanwhile must not be stopped.
func CheckFresh(p *RunPlan, actual []ActualRun) error {
	declared := p.Declared()
	opts := p.Basis.Options()
	if h := ActualHash(actual, declared, opts); h != p.Basis.ActualHash {
		now := Plan(nil, actual, opts)
		return fmt.Errorf("%w: the runs in Nomad changed since the plan was made (it saw %d runs, Nomad now has %d in scope: another apply, a stop or a garbage collection ran); run `caravan plan -out FILE` again and apply the new plan",
			ErrStale, p.Basis.Actual, now.Basis.Actual)
	}
	byID := make(map[string]ActualRun, len(actual))
	for _, a := range actual {
		if prev, ok := byID[a.ID]; ok {
			a = mergeActual(prev, a)
		}
		byID[a.ID] = a
	}
	for i := range p.Experiments {
		for j, r := range p.Experiments[i].Removed {
			if a, ok := byID[r.ID]; ok {
				p.Experiments[i].Removed[j] = refOf(a)
			}
		}
	}
	return nil
}

// CheckPolicy refuses a plan that would register a run the operator
// policy forbids. apply -plan reads no files, so the policy is checked on
// the saved jobs themselves: every task's driver, in the job's node pool.
func CheckPolicy(p *RunPlan, policy *spec.Policy) error {
	var bad []string
	for _, e := range p.Experiments {
		for _, c := range e.Create {
			if c.Job == nil {
				continue
			}
			np := deref(c.Job.NodePool)
			if np == "" {
				np = "default"
			}
			for _, tg := range c.Job.TaskGroups {
				for _, t := range tg.Tasks {
					for _, v := range policy.Check(t.Driver, np) {
						bad = append(bad, fmt.Sprintf("run %s: %s", c.ID, v.Reason))
					}
				}
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("the plan breaks %s:\n  %s\nchange the experiments (or ask the operator to change the policy) and run `caravan plan -out FILE` again",
		policy.Where(), strings.Join(bad, "\n  "))
}
