# run vit-3349bd9e
job "vit-3349bd9e" {
  namespace   = "ml"
  type        = "batch"
  node_pool   = "gpu-h100"
  priority    = 80
  datacenters = ["*"]

  meta {
    caravan_config_commit = ""
    caravan_config_dir    = "testdata"
    caravan_config_dirty  = "false"
    caravan_depends_on    = "tokenize"
    caravan_experiment    = "vit"
    caravan_file          = "gpu-sweep.hcl"
    caravan_gpus          = "4"
    caravan_image         = "ghcr.io/acme/train:1.4"
    caravan_image_pinning = "pin"
    caravan_line          = "15"
    caravan_managed_by    = "caravan"
    caravan_param_lr      = "0.1"
    caravan_param_opt     = "sgd"
    caravan_param_seed    = "1"
    caravan_params        = "{\"lr\":0.1,\"opt\":\"sgd\",\"seed\":1}"
    caravan_pool          = "h100"
    caravan_rerun         = "1"
    caravan_run_id        = "vit-3349bd9e"
    caravan_source_commit = "4f2a9c1e0b"
    caravan_source_git    = "https://github.com/acme/models.git"
    caravan_source_path   = "vit"
    caravan_spec_hash     = "3349bd9ee7c698ae1a1b884b9aae2fa120fb1278216c802d80692c47209e467b"
    caravan_timeout       = "24h0m0s"
  }

  group "run" {
    count            = 1
    max_run_duration = "24h0m0s"

    constraint {
      attribute = "$${attr.nomad.version}"
      operator  = "semver"
      value     = ">= 2.0.2"
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 3
      unlimited = false
    }

    ephemeral_disk {
      size = 204800
    }

    task "train" {
      driver = "docker"

      config {
        image    = "ghcr.io/acme/train:1.4"
        command  = "torchrun"
        args     = ["--nproc_per_node=4", "train.py", "--lr=0.1", "--opt", "sgd"]
        work_dir = "$${NOMAD_TASK_DIR}/src/vit"
        shm_size = 68719476736
      }

      artifact {
        source      = "git::https://github.com/acme/models.git"
        destination = "local/src"

        options {
          ref = "4f2a9c1e0b"
        }
      }

      env {
        CARAVAN_METRICS    = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_LR   = "0.1"
        CARAVAN_PARAM_OPT  = "sgd"
        CARAVAN_PARAM_SEED = "1"
        CARAVAN_RUN_ID     = "vit-3349bd9e"
        SEED               = "1"
        WANDB_MODE         = "offline"
      }

      resources {
        cores  = 32
        memory = 262144
        device "nvidia/gpu" {
          count = 4
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "H100"
          }
          constraint {
            attribute = "$${device.attr.memory}"
            operator  = ">="
            value     = "80 GiB"
          }
        }
      }
    }
  }
}
# run vit-2b253c00
job "vit-2b253c00" {
  namespace   = "ml"
  type        = "batch"
  node_pool   = "gpu-h100"
  priority    = 80
  datacenters = ["*"]

  meta {
    caravan_config_commit = ""
    caravan_config_dir    = "testdata"
    caravan_config_dirty  = "false"
    caravan_depends_on    = "tokenize"
    caravan_experiment    = "vit"
    caravan_file          = "gpu-sweep.hcl"
    caravan_gpus          = "4"
    caravan_image         = "ghcr.io/acme/train:1.4"
    caravan_image_pinning = "pin"
    caravan_line          = "15"
    caravan_managed_by    = "caravan"
    caravan_param_lr      = "0.1"
    caravan_param_opt     = "adam"
    caravan_param_seed    = "1"
    caravan_params        = "{\"lr\":0.1,\"opt\":\"adam\",\"seed\":1}"
    caravan_pool          = "h100"
    caravan_rerun         = "1"
    caravan_run_id        = "vit-2b253c00"
    caravan_source_commit = "4f2a9c1e0b"
    caravan_source_git    = "https://github.com/acme/models.git"
    caravan_source_path   = "vit"
    caravan_spec_hash     = "2b253c001cb36ac4dc7f23261562864eca3122ea4185f4fc62c1dea4317f5f0d"
    caravan_timeout       = "24h0m0s"
  }

  group "run" {
    count            = 1
    max_run_duration = "24h0m0s"

    constraint {
      attribute = "$${attr.nomad.version}"
      operator  = "semver"
      value     = ">= 2.0.2"
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 3
      unlimited = false
    }

    ephemeral_disk {
      size = 204800
    }

    task "train" {
      driver = "docker"

      config {
        image    = "ghcr.io/acme/train:1.4"
        command  = "torchrun"
        args     = ["--nproc_per_node=4", "train.py", "--lr=0.1", "--opt", "adam"]
        work_dir = "$${NOMAD_TASK_DIR}/src/vit"
        shm_size = 68719476736
      }

      artifact {
        source      = "git::https://github.com/acme/models.git"
        destination = "local/src"

        options {
          ref = "4f2a9c1e0b"
        }
      }

      env {
        CARAVAN_METRICS    = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_LR   = "0.1"
        CARAVAN_PARAM_OPT  = "adam"
        CARAVAN_PARAM_SEED = "1"
        CARAVAN_RUN_ID     = "vit-2b253c00"
        SEED               = "1"
        WANDB_MODE         = "offline"
      }

      resources {
        cores  = 32
        memory = 262144
        device "nvidia/gpu" {
          count = 4
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "H100"
          }
          constraint {
            attribute = "$${device.attr.memory}"
            operator  = ">="
            value     = "80 GiB"
          }
        }
      }
    }
  }
}
# run vit-1af4c2d4
job "vit-1af4c2d4" {
  namespace   = "ml"
  type        = "batch"
  node_pool   = "gpu-h100"
  priority    = 80
  datacenters = ["*"]

  meta {
    caravan_config_commit = ""
    caravan_config_dir    = "testdata"
    caravan_config_dirty  = "false"
    caravan_depends_on    = "tokenize"
    caravan_experiment    = "vit"
    caravan_file          = "gpu-sweep.hcl"
    caravan_gpus          = "4"
    caravan_image         = "ghcr.io/acme/train:1.4"
    caravan_image_pinning = "pin"
    caravan_line          = "15"
    caravan_managed_by    = "caravan"
    caravan_param_lr      = "0.001"
    caravan_param_opt     = "sgd"
    caravan_param_seed    = "1"
    caravan_params        = "{\"lr\":0.001,\"opt\":\"sgd\",\"seed\":1}"
    caravan_pool          = "h100"
    caravan_rerun         = "1"
    caravan_run_id        = "vit-1af4c2d4"
    caravan_source_commit = "4f2a9c1e0b"
    caravan_source_git    = "https://github.com/acme/models.git"
    caravan_source_path   = "vit"
    caravan_spec_hash     = "1af4c2d4475f8106eb0f8e490fa0c217d873ca1ff9fd6ee56b72f4221ccd9b8c"
    caravan_timeout       = "24h0m0s"
  }

  group "run" {
    count            = 1
    max_run_duration = "24h0m0s"

    constraint {
      attribute = "$${attr.nomad.version}"
      operator  = "semver"
      value     = ">= 2.0.2"
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 3
      unlimited = false
    }

    ephemeral_disk {
      size = 204800
    }

    task "train" {
      driver = "docker"

      config {
        image    = "ghcr.io/acme/train:1.4"
        command  = "torchrun"
        args     = ["--nproc_per_node=4", "train.py", "--lr=0.001", "--opt", "sgd"]
        work_dir = "$${NOMAD_TASK_DIR}/src/vit"
        shm_size = 68719476736
      }

      artifact {
        source      = "git::https://github.com/acme/models.git"
        destination = "local/src"

        options {
          ref = "4f2a9c1e0b"
        }
      }

      env {
        CARAVAN_METRICS    = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_LR   = "0.001"
        CARAVAN_PARAM_OPT  = "sgd"
        CARAVAN_PARAM_SEED = "1"
        CARAVAN_RUN_ID     = "vit-1af4c2d4"
        SEED               = "1"
        WANDB_MODE         = "offline"
      }

      resources {
        cores  = 32
        memory = 262144
        device "nvidia/gpu" {
          count = 4
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "H100"
          }
          constraint {
            attribute = "$${device.attr.memory}"
            operator  = ">="
            value     = "80 GiB"
          }
        }
      }
    }
  }
}
# run vit-263bb851
job "vit-263bb851" {
  namespace   = "ml"
  type        = "batch"
  node_pool   = "gpu-h100"
  priority    = 80
  datacenters = ["*"]

  meta {
    caravan_config_commit = ""
    caravan_config_dir    = "testdata"
    caravan_config_dirty  = "false"
    caravan_depends_on    = "tokenize"
    caravan_experiment    = "vit"
    caravan_file          = "gpu-sweep.hcl"
    caravan_gpus          = "4"
    caravan_image         = "ghcr.io/acme/train:1.4"
    caravan_image_pinning = "pin"
    caravan_line          = "15"
    caravan_managed_by    = "caravan"
    caravan_param_lr      = "0.001"
    caravan_param_opt     = "adam"
    caravan_param_seed    = "1"
    caravan_params        = "{\"lr\":0.001,\"opt\":\"adam\",\"seed\":1}"
    caravan_pool          = "h100"
    caravan_rerun         = "1"
    caravan_run_id        = "vit-263bb851"
    caravan_source_commit = "4f2a9c1e0b"
    caravan_source_git    = "https://github.com/acme/models.git"
    caravan_source_path   = "vit"
    caravan_spec_hash     = "263bb851493c281a0e00efab7ab034aa362e9357a01aba0ae0ee274abaa260a2"
    caravan_timeout       = "24h0m0s"
  }

  group "run" {
    count            = 1
    max_run_duration = "24h0m0s"

    constraint {
      attribute = "$${attr.nomad.version}"
      operator  = "semver"
      value     = ">= 2.0.2"
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 3
      unlimited = false
    }

    ephemeral_disk {
      size = 204800
    }

    task "train" {
      driver = "docker"

      config {
        image    = "ghcr.io/acme/train:1.4"
        command  = "torchrun"
        args     = ["--nproc_per_node=4", "train.py", "--lr=0.001", "--opt", "adam"]
        work_dir = "$${NOMAD_TASK_DIR}/src/vit"
        shm_size = 68719476736
      }

      artifact {
        source      = "git::https://github.com/acme/models.git"
        destination = "local/src"

        options {
          ref = "4f2a9c1e0b"
        }
      }

      env {
        CARAVAN_METRICS    = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_LR   = "0.001"
        CARAVAN_PARAM_OPT  = "adam"
        CARAVAN_PARAM_SEED = "1"
        CARAVAN_RUN_ID     = "vit-263bb851"
        SEED               = "1"
        WANDB_MODE         = "offline"
      }

      resources {
        cores  = 32
        memory = 262144
        device "nvidia/gpu" {
          count = 4
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "H100"
          }
          constraint {
            attribute = "$${device.attr.memory}"
            operator  = ">="
            value     = "80 GiB"
          }
        }
      }
    }
  }
}
# run tokenize-44608684
job "tokenize-44608684" {
  type        = "batch"
  node_pool   = "cpu"
  priority    = 50
  datacenters = ["*"]

  meta {
    caravan_config_commit = ""
    caravan_config_dir    = "testdata"
    caravan_config_dirty  = "false"
    caravan_depends_on    = ""
    caravan_experiment    = "tokenize"
    caravan_file          = "gpu-sweep.hcl"
    caravan_gpus          = "0"
    caravan_line          = "65"
    caravan_managed_by    = "caravan"
    caravan_params        = "{}"
    caravan_pool          = "cpu"
    caravan_rerun         = "0"
    caravan_run_id        = "tokenize-44608684"
    caravan_source_commit = ""
    caravan_source_git    = ""
    caravan_source_path   = ""
    caravan_spec_hash     = "44608684602526ec7fbbb8402ae9b91b4e54baa9fc2ca119a0fa277b6dd21322"
    caravan_timeout       = ""
  }

  group "run" {
    count = 1

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "train" {
      driver = "exec"

      config {
        command = "/usr/local/bin/tokenize"
        args    = ["--shards", "64"]
      }

      env {
        CARAVAN_METRICS = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_RUN_ID  = "tokenize-44608684"
      }

      resources {
        cpu    = 4000
        memory = 8192
      }
    }
  }
}
