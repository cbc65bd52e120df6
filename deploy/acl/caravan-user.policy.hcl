# caravan-user: what a data scientist needs from a laptop: ls, status, show,
# logs, report, stop, rerun, run, pools and cost. Runs are registered and
# stopped only in the experiments' namespace ("ml"); everything else is
# read-only.
#
#   nomad acl policy apply -description "caravan users" caravan-user deploy/acl/caravan-user.policy.hcl
#   nomad acl token create -name "caravan-$USER" -policy caravan-user
#
# On Nomad 1.x replace register-job and deregister-job with submit-job.

namespace "*" {
  # list-jobs, read-job: ls, status, show, report. read-logs: logs, and
  # report's scan of stderr for CUDA out-of-memory.
  capabilities = ["list-jobs", "read-job", "read-logs"]

  variables {
    path "caravan/runs/*" {
      # records and usage summaries (runs of no project)
      capabilities = ["list", "read"]
    }
    path "caravan/projects/*" {
      # records and usage summaries of each project's runs
      capabilities = ["list", "read"]
    }
    path "caravan/gates/*" {
      # runs waiting for others (depends_on): ls, status, show
      capabilities = ["list", "read"]
    }
    path "caravan/autoscaler/*" {
      # caravan pools and caravan cost read the autoscaler's records; run
      # reads the pool catalogue and policy
      capabilities = ["list", "read"]
    }
  }
}

namespace "ml" {
  # register-job: run and rerun. deregister-job: stop.
  capabilities = ["list-jobs", "read-job", "read-logs", "register-job", "deregister-job"]

  variables {
    # run and rerun register jobs only: the controller writes records.
    path "caravan/runs/*" {
      capabilities = ["list", "read"]
    }
    path "caravan/projects/*" {
      capabilities = ["list", "read"]
    }
    path "caravan/autoscaler/*" {
      capabilities = ["list", "read"]
    }
    # run writes the gate of a run that depends on others; stop removes
    # the gate of a waiting run.
    path "caravan/gates/*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
    # run keeps the configuration snapshot of its runs; rerun -param
    # reads it to clone a run with other params.
    path "caravan/configs/*" {
      capabilities = ["read", "write"]
    }
  }
}

# caravan status shows nodes (ready, draining, down) and free GPUs per pool.
node {
  policy = "read"
}
