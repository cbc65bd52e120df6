# Settings every experiment in this directory inherits unless it sets them.
defaults {
  pool      = "a100"
  namespace = "ml"
  image     = local.image
  retries   = 1
  timeout   = "24h"
  # Runs that set a stall_timeout are stopped when they hang.
  on_stall = "stop"
  env = {
    WANDB_PROJECT = "caravan-examples"
  }

  resources {
    gpus   = 1
    cores  = 8
    memory = "32GiB"
    shm    = "8GiB"
    disk   = "20GiB"
  }
}
