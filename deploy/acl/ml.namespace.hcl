# ml: the experiments' namespace. Nomad itself refuses here any task whose
# driver is not listed, whatever a configuration, a saved plan or a token
# holder submits: the enforcement of the driver policy that does not depend
# on caravan (docs/setup.md, "Threat model"). raw_exec would run a task as
# root on the host, beside the node's Nomad client and caravan's agent.
#
#   nomad namespace apply deploy/acl/ml.namespace.hcl

name        = "ml"
description = "caravan experiments"

capabilities {
  enabled_task_drivers = ["docker", "exec"]
}
