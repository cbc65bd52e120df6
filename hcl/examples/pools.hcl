# GPU pools. An experiment's pool names one of these; a pool nobody
# declares maps to the Nomad node pool of the same name with defaults.

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
    module        = "../../terraform/aws-gpu-pool"
    vars          = { instance_type = "p4d.24xlarge", subnet_id = var.subnet, spot = true }
    terraform_bin = "terraform"
  }
}

# A pool without terraform is not autoscaled: caravan only maps it.
pool "h100" {
  node_pool      = "gpu-h100"
  gpus_per_node  = 8
  price_per_hour = 98.32
}
