# caravan-acl: one Nomad ACL policy covering every caravan command, the
# autoscaler and the agent. Use it for operators and for a first setup; give
# CI, people, the autoscaler and the agent the narrower policies in
# deploy/acl/ (see docs/setup.md, "ACL policies and tokens").
#
#   nomad acl policy apply -description "caravan: every command" caravan jobs/caravan-acl.policy.hcl
#   nomad acl token create -name caravan-operator -policy caravan
#
# What each rule is for (Nomad 2.0 names; all exist in 1.x too):
#   list-jobs, read-job   plan/apply/ls find caravan's runs by job meta in
#                         every namespace; show/status/report read jobs,
#                         allocations and blocked evaluations; the agent
#                         reads allocation stats; the autoscaler reads demand
#                         and follows the event stream on namespace "*",
#                         which Nomad allows only with read-job in EVERY
#                         namespace (hence the wildcard below).
#   submit-job            apply/run/rerun register jobs, stop and
#                         apply -prune stop them; on Nomad 2.0 the narrower
#                         register-job + deregister-job suffice (deploy/acl/).
#   read-logs             caravan logs, and report's scan of stderr for
#                         "CUDA out of memory".
#   variables caravan/*   run records (caravan/projects/<p>/runs/<id>, or
#                         caravan/runs/<id> for runs of no project, written
#                         by the controller, read by ls/show/rerun/report),
#                         usage summaries next to them (written by the
#                         agent), the controller's heartbeat,
#                         the autoscaler's pool and cost records and leader
#                         lease (caravan/autoscaler/*; the lease is deleted
#                         on a clean shutdown, hence destroy).
#   node write            the autoscaler marks nodes ineligible, drains them
#                         and cancels drains; node read (included) serves
#                         caravan status, the agent's /v1/client/stats and
#                         the Node topic of the event stream.
#   node_pool read/write  the autoscaler creates the node pools of the pools
#                         it scales when they are missing (never deletes).
#   variables caravan/autoscaler/catalog
#                         the pool catalogue and policy the autoscaler
#                         publishes and validate/plan/apply read.
#
# This policy is for operators, who also own the pools directory. It can
# register jobs in every namespace; CI and experiment authors get the
# narrower deploy/acl/ policies, which register only in the experiments'
# namespace.
#
# Not needed: agent (caravan calls no /v1/agent endpoint), operator,
# alloc-exec, read-fs.
#
# Caveat when editing: a rule for a named namespace (namespace "ml" {...})
# replaces the "*" rule for that namespace instead of adding to it, so
# repeat every capability there.

namespace "*" {
  capabilities = ["list-jobs", "read-job", "submit-job", "read-logs"]

  variables {
    path "caravan/*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
  }
}

node {
  policy = "write"
}

node_pool "*" {
  capabilities = ["read", "write"]
}
