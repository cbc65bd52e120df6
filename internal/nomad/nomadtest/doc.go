// Package nomadtest is an in-process fake of the Nomad HTTP API for tests:
// the real github.com/hashicorp/nomad/api client (and so *nomad.Client)
// talks to it over HTTP, and it answers in the shapes recorded from Nomad
// 2.0.5 in shared/nomad-api-fixtures (copied into shapes/ and checked by the
// contract tests in package nomad).
//
// It models what caravan touches: jobs (register with enforce-index, plan
// with a diff, stop, purge, summaries), evaluations (blocked ones with
// FailedTGAllocs "missing devices", "devices: no devices match request",
// cpu/memory exhaustion, and NodesInPool 0 for an empty pool; listings
// filtered by one comparison such as Status == "blocked"), a best-fit
// scheduler over nodes, node pools and nvidia/gpu device instances,
// allocations and their task events, node drain and eligibility,
// Variables with check-and-set, the event stream, client stats, allocation
// stats, task logs and the client agent's /v1/agent/self, ACL tokens
// (with ACLs off, Nomad 2.0.5's stand-in token), namespaces and node pools
// (created and deleted). Where no recorded fixture shows an answer (error
// texts, stand-ins), the fake answers as Nomad 2.0.5 did on a real cluster,
// which the e2e test TestE2EFakeAnswersLikeRealNomad in package nomad
// checks.
//
// Tests seed it (AddNode, AddNodePool, AddNamespace, SetVariable), move
// allocations through their lives (StartAlloc, RunAll, CompleteAlloc,
// FailAlloc, EndAlloc, LoseAlloc, RescheduleAlloc, SetNodeStatus,
// ExpireDrain, WriteLog, SetAllocStats, SetHostStats) and inject faults
// (FailNext, Delay, Deny, RequireToken, Intercept). Nothing runs on a timer
// unless a test asks for Drive (a pretend client, for rehearsing the e2e
// suites): state changes only when a request or a helper changes it, so
// tests are deterministic. Not modelled: device attribute constraints and affinities,
// deployments, service jobs' update strategies, native variable locks.
package nomadtest
