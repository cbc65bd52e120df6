# Right-sizing: a pool of 1-GPU machines beside the 8-GPU a100 pool
# (pools.hcl); like h100 it has no terraform block, so it is not autoscaled.
# pools lets caravan pick, per experiment, the smallest listed pool whose
# nodes hold its resources, so a 1-GPU probe does not take an 8-GPU machine
# and leave seven GPUs idle. Larger layouts: hcl/README.md, "Right-sized
# pools", and hcl/pools/right-sized.hcl.

pool "a100-1g" {
  node_pool       = "gpu-a100-1g"
  gpus_per_node   = 1
  cpu_per_node    = 24000
  memory_per_node = "85GB"
  price_per_hour  = 3.67
}

# One GPU and the defaults' 32 GiB: the a100-1g pool. With 2 GPUs it would
# go to a100.
experiment "probe" {
  description = "smoke-test the training image on one GPU"
  pools       = ["a100", "a100-1g"]
  command     = "python"
  args        = ["train.py", "--steps", "100"]

  resources {
    gpus = 1
  }
}
