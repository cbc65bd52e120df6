# A CPU-only job with raw_exec: no container, no GPU. It inherits the
# defaults' pool, env and retries, but not their image and shm, which only
# mean something to docker.
experiment "preprocess" {
  description = "tokenise and shard the datasets"
  pool        = "cpu"
  driver      = "raw_exec"
  priority    = 30
  command     = "/usr/local/bin/shard"
  args        = ["--dataset", param.dataset, "--shards", param.shards, "--out", "/data/${param.dataset}"]

  params = { shards = 64 }

  sweep {
    grid = { dataset = var.datasets }
  }

  resources {
    gpus   = 0
    cpu    = 4000
    memory = "8GiB"
    disk   = "100GiB"
  }

  timeout = "2h"
  retries = 0
}
