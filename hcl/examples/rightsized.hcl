# Right-sizing: pools lets caravan pick, per experiment, the smallest
# listed pool whose nodes hold its resources, so a 1-GPU probe does not take
# an 8-GPU machine and leave seven GPUs idle. The operator declares the
# pools and their node sizes (pools/pools.hcl: a100 has 8 GPUs per node,
# a100-1g one). Larger layouts: hcl/README.md, "Right-sized pools", and
# hcl/pools/right-sized.hcl.

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
