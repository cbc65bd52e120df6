# caravan-plan: what `caravan plan` needs, for pull-request pipelines. It can
# see which runs exist and nothing else: no job specs, no logs, no record
# contents, no writes.
#
#   nomad acl policy apply -description "caravan plan (CI, read-only)" caravan-plan docs/acl/caravan-plan.policy.hcl
#   nomad acl token create -name ci-caravan-plan -policy caravan-plan -ttl 8760h

namespace "*" {
  # plan lists jobs with their meta in every namespace the token sees, to
  # find caravan's runs and job IDs taken by jobs caravan does not own.
  capabilities = ["list-jobs"]

  variables {
    # Run IDs that have a record (a stopped and purged run still counts).
    path "caravan/runs/*" {
      capabilities = ["list"]
    }
  }
}
