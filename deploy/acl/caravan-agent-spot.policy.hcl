# caravan-agent on spot pools: what the agent's preemption watcher needs on
# top of caravan-agent.policy.hcl, to drain its node on a preemption notice
# and move the runs that checkpoint (re-register their jobs off the node
# and record the moves). Attach it to the agent's token only where spot
# pools run:
#
#   nomad acl policy apply -description "caravan agent on spot pools" caravan-agent-spot deploy/acl/caravan-agent-spot.policy.hcl
#   nomad acl token create -name caravan-agent -policy caravan-agent -policy caravan-agent-spot

# The runs' namespace (ml, as deploy/acl/ml.namespace.hcl): read a run's
# job and register it again with a placement that avoids the node.
namespace "ml" {
  capabilities = ["read-job", "submit-job"]

  variables {
    # The moves of each run, beside its record.
    path "caravan/projects/*" {
      capabilities = ["read", "write"]
    }
    path "caravan/runs/*" {
      capabilities = ["read", "write"]
    }
  }
}

# The drain of its own node.
node {
  policy = "write"
}
