# What experiments may run, and where. validate, plan and apply refuse any
# run outside it, naming the experiment's attribute; docs/setup.md shows
# the Nomad namespace settings that enforce the drivers without caravan.
policy {
  # preprocess runs its shard tool with raw_exec, in pool cpu. A cluster
  # that needs no raw_exec should leave it out: raw_exec tasks run as root
  # on the host.
  allowed_drivers = ["docker", "exec", "raw_exec"]

  # The node pools of the pools above, and the CPU pool preprocess names.
  allowed_node_pools = ["gpu-a100", "gpu-h100", "gpu-a100-1g", "cpu"]

  # Where caravan's own services run (jobs/caravan-autoscaler.nomad.hcl):
  # never raw_exec there, whatever allowed_drivers says.
  service_node_pools = ["default", "caravan-system"]
}
