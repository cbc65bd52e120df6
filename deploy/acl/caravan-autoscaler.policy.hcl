# caravan-autoscaler: what `caravan autoscale` needs (jobs/caravan-autoscaler.nomad.hcl),
# and `caravan controller`, which it runs too, and no more: outside the
# experiments' namespace it registers, stops and reads the logs of no job.
# The jobspec reads its token from the job's own variable:
#
#   nomad acl policy apply -description "caravan autoscaler" caravan-autoscaler deploy/acl/caravan-autoscaler.policy.hcl
#   TOKEN=$(nomad acl token create -name caravan-autoscaler -policy caravan-autoscaler -json | jq -r .SecretID)
#   nomad var put -namespace default nomad/jobs/caravan-autoscaler token="$TOKEN"

namespace "*" {
  # Demand (jobs, their summaries, blocked evaluations) and the event
  # stream on namespace "*", which Nomad allows only with read-job in every
  # namespace: keep this rule on "*".
  capabilities = ["list-jobs", "read-job"]

  variables {
    # Pool records (intent written before each Terraform apply), cost
    # records, the leader lease (deleted on a clean shutdown) and the pool
    # catalogue it publishes for validate, plan and apply. They live in the
    # namespace given by autoscale -namespace (default: default).
    path "caravan/autoscaler/*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
    # Run records, written by the controller from each caravan job (create
    # only: check-and-set on index 0), in the run's namespace, and the
    # controller's heartbeat.
    path "caravan/projects/*" {
      capabilities = ["list", "read", "write"]
    }
    path "caravan/runs/*" {
      capabilities = ["list", "read", "write"]
    }
    path "caravan/controller/*" {
      capabilities = ["read", "write"]
    }
    # Gates of waiting runs, to list them everywhere; they are released
    # only in the namespaces below that allow it.
    path "caravan/gates/*" {
      capabilities = ["list", "read"]
    }
  }
}

# The experiments' namespace (repeat the block for each, as in
# caravan-apply.policy.hcl). A rule for a named namespace replaces the "*"
# rule there, so it repeats it, and adds what the controller needs to start
# a run that waited for others (depends_on): register-job, to register the
# job apply put in the run's gate, and the gates themselves. Only here,
# where the namespace refuses raw_exec whatever a job says
# (ml.namespace.hcl): in every other namespace this token registers
# nothing.
namespace "ml" {
  # read-logs and read-fs: the end of a run's logs in its outcome, and when
  # it last printed (stall_timeout); deregister-job: stopping a run that
  # stalled under on_stall = "stop".
  capabilities = ["list-jobs", "read-job", "register-job", "read-logs", "read-fs", "deregister-job"]

  variables {
    path "caravan/gates/*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
    path "caravan/projects/*" {
      capabilities = ["list", "read", "write"]
    }
    path "caravan/runs/*" {
      capabilities = ["list", "read", "write"]
    }
  }
}

# Mark nodes ineligible, drain them, cancel drains; read nodes and their
# allocations, and the Node topic of the event stream.
node {
  policy = "write"
}

# Create the node pools of the pools it scales when they are missing (a
# pool scaling from zero has no client to create it). Read and write, not
# delete. Match your pools' node_pool names: "gpu-*" covers the examples'.
node_pool "gpu-*" {
  capabilities = ["read", "write"]
}
