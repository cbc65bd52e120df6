// Package nomad is the only package that talks to Nomad. It owns client
// configuration (NOMAD_* environment variables exactly as the nomad CLI reads
// them), a timeout on every call, readable errors, run records and usage
// summaries in Nomad Variables, the event stream, and the mapping of Nomad
// job and allocation states to run states.
//
// Every method of *Client takes a context first and bounds the call with the
// client's timeout (Config.Timeout, default 10 s); the event stream and
// followed logs live as long as their context. Every error is an *Error
// whose message is a sentence naming the address and the fix, and which
// errors.Is one of ErrNotFound, ErrPermission, ErrUnreachable, ErrTimeout,
// ErrNamespace, ErrNodePool, ErrConflict, ErrServer, ErrCorrupt or
// ErrTooLarge. Credentials in the address (http://user:password@host) are
// used for the calls but never shown: errors, Address and UIJobURL carry
// the address without them (redact.go).
//
// The calls, by subject:
//
//   - jobs: Jobs, CaravanJobs (by meta), Job, RegisterJob (enforce index),
//     CreateJob (only-if-absent, idempotent for the same run, refuses IDs
//     caravan does not own), PlanJob, StopJob, PurgeJob, JobSummary,
//     JobAllocations, JobEvaluations;
//   - scheduling state: Allocation, Allocations, NodeAllocations,
//     Evaluations, BlockedEvaluations, Nodes (with resources), Node,
//     NodePools, EnsureNodePool, SetEligibility, DrainNode, CancelDrain,
//     CheckNamespace;
//   - client agents: ClientStats, AllocationStats, Logs;
//   - Variables: Variable, PutVariable and DeleteVariable (check-and-set),
//     Variables (paginated list), and on top of them run records (Record,
//     CreateRecord, PutRecord, DeleteRecord, RecordIDs), usage (Usage,
//     PutUsage), the gates of runs waiting for others (GateRefs, Gate,
//     CreateGate, PutGate, DeleteGate), and a leader Lease;
//   - ServerVersion, the servers' lowest version (/v1/agent/members);
//   - Events (the event stream), Self (the caller's token), UIJobURL.
//
// The data it reads and writes (records, usage, run states, job meta keys)
// is defined in internal/record.
package nomad
