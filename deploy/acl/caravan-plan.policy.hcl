# caravan-plan: what `caravan plan` needs, for pull-request pipelines. It can
# see which runs exist and read the operator's pool catalogue, and nothing
# else: no job specs, no logs, no record contents, no writes. A pull request
# can change the pipeline that holds this token (docs/setup.md, "Threat
# model"), so it must be worth nothing to an attacker.
#
#   nomad acl policy apply -description "caravan plan (CI, read-only)" caravan-plan deploy/acl/caravan-plan.policy.hcl
#   nomad acl token create -name ci-caravan-plan -policy caravan-plan -ttl 8760h

namespace "*" {
  # plan lists jobs with their meta in every namespace the token sees, to
  # find caravan's runs and job IDs taken by jobs caravan does not own.
  capabilities = ["list-jobs"]

  variables {
    # Run IDs that have a record (a stopped and purged run still counts),
    # under each project's prefix and, for runs of no project, caravan/runs.
    path "caravan/runs/*" {
      capabilities = ["list"]
    }
    path "caravan/projects/*" {
      capabilities = ["list"]
    }
    # Runs waiting for others (depends_on): their gates' paths. Without
    # read, plan lists them as waiting without saying how far along.
    path "caravan/gates/*" {
      capabilities = ["list"]
    }
  }
}

# The namespace of the autoscaler's variables (its -namespace; plan's
# -pools-namespace). A rule for a named namespace replaces the "*" rule
# there, so it repeats it.
namespace "default" {
  capabilities = ["list-jobs"]

  variables {
    path "caravan/runs/*" {
      capabilities = ["list"]
    }
    path "caravan/projects/*" {
      capabilities = ["list"]
    }
    # Runs waiting for others (depends_on): their gates' paths. Without
    # read, plan lists them as waiting without saying how far along.
    path "caravan/gates/*" {
      capabilities = ["list"]
    }
    # The pools experiments may name and the operator's policy, published
    # by caravan autoscale.
    path "caravan/autoscaler/catalog" {
      capabilities = ["read"]
    }
  }
}
