# caravan-agent: what `caravan agent` needs on every client (jobs/caravan-agent.nomad.hcl).
# The jobspec reads its token from the job's own variable:
#
#   nomad acl policy apply -description "caravan agent" caravan-agent deploy/acl/caravan-agent.policy.hcl
#   TOKEN=$(nomad acl token create -name caravan-agent -policy caravan-agent -json | jq -r .SecretID)
#   nomad var put -namespace default nomad/jobs/caravan-agent token="$TOKEN"

namespace "*" {
  # The node's allocations (Nomad filters them by read-job per namespace),
  # their jobs' meta (run, experiment) and /v1/client/allocation/:id/stats.
  capabilities = ["read-job"]

  variables {
    # Usage summaries next to each run's record, in the run's namespace:
    # caravan/projects/<project>/runs/<run-id>/usage, or
    # caravan/runs/<run-id>/usage for a run of no project.
    path "caravan/projects/*" {
      capabilities = ["write"]
    }
    path "caravan/runs/*" {
      capabilities = ["write"]
    }
  }
}

# /v1/client/stats (host and device-plugin stats) and the node's allocations.
node {
  policy = "read"
}
