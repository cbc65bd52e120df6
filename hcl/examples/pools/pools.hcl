# The operator's pools: what `caravan autoscale hcl/examples/pools` scales
# and publishes for the experiments in hcl/examples, which only name them.
# This directory is changed by operators, not by the pull requests that
# change experiments: a terraform block runs with the autoscaler's cloud
# credentials. A pool nobody declares maps to the Nomad node pool of the
# same name with defaults.

variable "subnet" {
  type    = string
  default = "subnet-0abc1234"
}

pool "a100" {
  node_pool       = "gpu-a100"
  gpu             = "nvidia/gpu"
  gpus_per_node   = 8
  cpu_per_node    = 96000
  memory_per_node = "1TiB"
  min_nodes       = 0
  max_nodes       = 16
  idle_timeout    = "10m"
  boot_timeout    = "15m"
  price_per_hour  = 32.77

  terraform {
    module        = "../../../terraform/aws-gpu-pool"
    vars          = { instance_type = "p4d.24xlarge", subnet_id = var.subnet, servers = var.nomad_servers }
    terraform_bin = "terraform"
  }
}

# A pool without terraform is not autoscaled: caravan only maps it.
pool "h100" {
  node_pool      = "gpu-h100"
  gpus_per_node  = 8
  price_per_hour = 98.32
}

# Right-sizing: a pool of 1-GPU machines beside the 8-GPU a100 pool. An
# experiment that lists both in pools = [...] gets the smallest that holds
# it (hcl/examples/rightsized.hcl). Like h100 it has no terraform block, so
# it is not autoscaled.
pool "a100-1g" {
  node_pool       = "gpu-a100-1g"
  gpus_per_node   = 1
  cpu_per_node    = 24000
  memory_per_node = "85GB"
  price_per_hour  = 3.67
}

# Where the new clients find the Nomad servers: RPC addresses, or a cloud
# auto-join string. The pool's node_pool reaches the module by itself.
variable "nomad_servers" {
  type    = list(string)
  default = ["provider=aws tag_key=nomad-role tag_value=server"]
}
