# Right-sized GPU pools: the same A100 machine family in four sizes, for
# `caravan simulate -pools hcl/pools/right-sized.hcl` and as a starting point
# for a real layout. An experiment that lists them in `pools = [...]` runs on
# the smallest machine that holds it; the simulator routes trace jobs by the
# same rule. Prices are per machine-hour and only for cost figures: about
# GCP's on-demand a2-highgpu-{1,2,4,8}g list prices, linear per GPU; put your
# own. Add a terraform block to each pool to let `caravan autoscale` run it.

pool "a100-1g" {
  node_pool       = "gpu-a100-1g"
  gpus_per_node   = 1
  cpu_per_node    = 24000
  memory_per_node = "85GB"
  idle_timeout    = "10m"
  price_per_hour  = 3.67
}

pool "a100-2g" {
  node_pool       = "gpu-a100-2g"
  gpus_per_node   = 2
  cpu_per_node    = 48000
  memory_per_node = "170GB"
  idle_timeout    = "10m"
  price_per_hour  = 7.35
}

pool "a100-4g" {
  node_pool       = "gpu-a100-4g"
  gpus_per_node   = 4
  cpu_per_node    = 96000
  memory_per_node = "340GB"
  idle_timeout    = "10m"
  price_per_hour  = 14.69
}

pool "a100-8g" {
  node_pool       = "gpu-a100-8g"
  gpus_per_node   = 8
  cpu_per_node    = 192000
  memory_per_node = "680GB"
  idle_timeout    = "10m"
  price_per_hour  = 29.39
}
