variable "lr" {
  type    = number
  default = 0.001
}

locals {
  image = "ghcr.io/acme/train:1.4"
}

pool "h100" {
  node_pool = "gpu-h100"
  gpu       = "nvidia/gpu"
}

experiment "vit" {
  description = "ViT-B/16 sweep"
  pool        = "h100"
  priority    = 80
  namespace   = "ml"
  tags        = ["vision"]

  source {
    git    = "https://github.com/acme/models.git"
    commit = "4f2a9c1e0b"
    path   = "vit"
  }

  image   = local.image
  command = "torchrun"
  args    = ["--nproc_per_node=4", "train.py", "--lr=${param.lr}", "--opt", param.opt]
  env     = { WANDB_MODE = "offline", SEED = param.seed }

  params = {
    lr   = var.lr
    seed = 1
  }

  sweep {
    grid = {
      lr = [0.1, var.lr]
    }
    random {
      samples = 2
      seed    = 7
      opt     = choice("adam", "sgd")
    }
  }

  resources {
    gpus       = 4
    gpu_model  = "H100"
    gpu_memory = "80GiB"
    cores      = 32
    memory     = "256GiB"
    shm        = "64GiB"
    disk       = "200GiB"
  }

  timeout    = "24h"
  retries    = 3
  depends_on = ["tokenize"]
  rerun      = 1
}

experiment "tokenize" {
  pool    = "cpu"
  driver  = "exec"
  command = "/usr/local/bin/tokenize"
  args    = ["--shards", "64"]

  resources {
    cpu    = 4000
    memory = "8GiB"
  }
}
