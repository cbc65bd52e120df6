# A grid × random sweep of ResNet-50: 3 learning rates × 2 batch sizes × 4
# random draws = 24 runs, each its own Nomad batch job.
experiment "resnet50" {
  description = "ResNet-50 baseline"
  pool        = "a100"
  priority    = 70
  namespace   = "ml"
  tags        = ["vision", "baseline"]

  source {
    git    = local.models
    commit = local.commit
    path   = "train"
  }

  image   = local.image
  command = "python"
  args    = ["train.py", "--lr", param.lr, "--batch", param.batch, "--dropout=${param.dropout}", "--wd", param.wd, "--opt", param.opt]
  env     = { WANDB_MODE = "offline", SEED = param.seed }

  params = {
    lr    = var.lr
    batch = 256
    seed  = 1
  }

  sweep {
    grid = {
      lr    = [0.1, 0.01, var.lr]
      batch = [128, 256]
    }
    random {
      samples = 4
      seed    = 7
      dropout = uniform(0.0, 0.5)
      wd      = loguniform(1e-6, 1e-2)
      opt     = choice("adam", "sgd")
    }
  }

  resources {
    gpus       = 2
    gpu_model  = "A100"
    gpu_memory = "40GiB"
    cpu        = 8000
    memory     = "64GiB"
    shm        = "16GiB"
    disk       = "50GiB"
  }

  timeout       = "12h"
  stall_timeout = "30m"
  retries       = 2
}
