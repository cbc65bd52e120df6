# caravan-apply: what `caravan apply` (and `caravan plan`) needs, for the
# pipeline that runs on merge. Also enough for `caravan run`, `rerun` and
# `stop`.
#
#   nomad acl policy apply -description "caravan apply (CI on merge)" caravan-apply docs/acl/caravan-apply.policy.hcl
#   nomad acl token create -name ci-caravan-apply -policy caravan-apply -ttl 8760h
#
# Nomad 2.0 split submit-job into register-job, deregister-job, purge-job,
# plan-job, ...; on Nomad 1.x replace register-job and deregister-job with
# submit-job. To confine runs to some namespaces, replace "*" with them
# (one block each, every capability repeated).

namespace "*" {
  # list-jobs: plan finds caravan's runs by job meta.
  # read-job: a run registered by a racing apply is compared by spec hash.
  # register-job: new runs (with enforce-index, so nothing is overwritten).
  # deregister-job: apply -prune and caravan stop (stop, never purge).
  capabilities = ["list-jobs", "read-job", "register-job", "deregister-job"]

  variables {
    path "caravan/runs/*" {
      # list: plan; write: each new run's record (check-and-set, so a
      # racing apply never overwrites history); read: rerun reads records
      # and a refused check-and-set shows what is there.
      capabilities = ["list", "read", "write"]
    }
  }
}
