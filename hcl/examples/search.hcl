# Random search for a ViT fine-tune: 32 draws, no grid. Same seed, same draws.
experiment "vit-search" {
  description = "ViT-B/16 fine-tune, random search"
  pool        = "h100"
  tags        = ["vision", "search"]
  depends_on  = ["resnet50"]

  source {
    git    = local.models
    commit = "4f2a9c1e7b3d0a5e9f8c7b6a5d4e3f2a1b0c9d8e"
  }

  # Declared by digest, so what runs is fixed before apply even asks the
  # registry; require-digest makes a tag here an error. The other
  # experiments name a tag, which apply pins to its digest (image_pinning
  # "pin", the default).
  image         = "ghcr.io/acme/train@sha256:7c4b2a9e5d3f1c8b6a4e2d0f9c7b5a3e1d9f8c6b4a2e0d8f6c4b2a0e9d7c5b3a"
  image_pinning = "require-digest"

  command = "torchrun"
  args = concat(
    ["--nproc_per_node", "4", "finetune.py"],
    ["--lr", param.lr, "--warmup", param.warmup, "--layers", param.layers, "--label-smoothing", param.smoothing],
  )
  env = { HF_HUB_OFFLINE = "1", RUN_NAME = format("vit-%s-%d", param.sched, param.layers) }

  params = {
    sched = "cosine"
  }

  sweep {
    random {
      samples   = 32
      seed      = 2024
      lr        = loguniform(1e-5, 1e-3)
      warmup    = randint(0, 2000)
      layers    = choice([12, 24])
      smoothing = uniform(0, 0.2)
    }
  }

  resources {
    gpus      = 4
    gpu_model = "H100"
    cores     = 32
    memory    = "256GiB"
    shm       = "32GiB"
  }

  timeout = "6h"
  rerun   = 1
}
