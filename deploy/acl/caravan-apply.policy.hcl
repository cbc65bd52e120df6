# caravan-apply: what `caravan apply` (and `caravan plan`) needs, for the
# pipeline that runs on merge. It registers runs only in the experiments'
# namespace, "ml" here (the examples' defaults set namespace = "ml"), whose
# own settings (deploy/acl/ml.namespace.hcl) refuse the raw_exec driver
# whatever a configuration says. Also enough for `caravan run`, `rerun` and
# `stop` in that namespace.
#
#   nomad acl policy apply -description "caravan apply (CI on merge)" caravan-apply deploy/acl/caravan-apply.policy.hcl
#   nomad acl token create -name ci-caravan-apply -policy caravan-apply -ttl 8760h
#
# Nomad 2.0 split submit-job into register-job, deregister-job, purge-job,
# plan-job, ...; on Nomad 1.x replace register-job and deregister-job with
# submit-job. For several experiment namespaces, repeat the "ml" block for
# each: a rule for a named namespace replaces the "*" rule there.

# Everywhere: see which runs exist (plan), change nothing.
namespace "*" {
  capabilities = ["list-jobs"]

  variables {
    path "caravan/runs/*" {
      capabilities = ["list"]
    }
    path "caravan/projects/*" {
      capabilities = ["list"]
    }
  }
}

# The autoscaler's namespace: read the pool catalogue and policy, which
# apply enforces, and the controller's heartbeat, which apply reads to warn
# when no controller keeps records; never write them.
namespace "default" {
  capabilities = ["list-jobs"]

  variables {
    path "caravan/runs/*" {
      capabilities = ["list"]
    }
    path "caravan/projects/*" {
      capabilities = ["list"]
    }
    path "caravan/autoscaler/catalog" {
      capabilities = ["read"]
    }
    path "caravan/controller/*" {
      capabilities = ["read"]
    }
  }
}

# The experiments' namespace.
namespace "ml" {
  # list-jobs: plan finds caravan's runs by job meta.
  # read-job: a run registered by a racing apply is compared by spec hash.
  # register-job: new runs (with enforce-index, so nothing is overwritten).
  # deregister-job: apply -prune and caravan stop (stop, never purge).
  capabilities = ["list-jobs", "read-job", "register-job", "deregister-job"]

  variables {
    # list: plan; read: rerun reads records. apply writes no record:
    # the controller writes each from its job.
    path "caravan/runs/*" {
      capabilities = ["list", "read"]
    }
    path "caravan/projects/*" {
      capabilities = ["list", "read"]
    }
    # A run that depends on others is written as a gate, which the
    # controller turns into a job once they completed; list: plan shows
    # waiting runs, destroy: apply -prune and stop remove a waiting run.
    path "caravan/gates/*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
    # The configuration snapshot each apply keeps (create-only, content
    # addressed), from which `caravan rerun -param` clones a run.
    path "caravan/configs/*" {
      capabilities = ["read", "write"]
    }
  }
}

# The Nomad servers' version (/v1/agent/members), recorded with each run
# and checked before submitting runs with a timeout (max_run_duration
# needs Nomad 2.0.2).
node {
  policy = "read"
}
