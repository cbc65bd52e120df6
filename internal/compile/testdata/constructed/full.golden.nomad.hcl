job "resnet50-3cf7567e" {
  namespace   = "ml"
  type        = "batch"
  node_pool   = "gpu-a100"
  priority    = 70
  datacenters = ["*"]

  meta {
    caravan_config_commit = "0123456789abcdef0123456789abcdef01234567"
    caravan_config_dir    = "experiments"
    caravan_config_dirty  = "false"
    caravan_depends_on    = "prep,tokenize"
    caravan_experiment    = "resnet50"
    caravan_file          = "vision.hcl"
    caravan_gpus          = "2"
    caravan_image         = "ghcr.io/acme/train:1.4"
    caravan_image_pinning = "pin"
    caravan_line          = "12"
    caravan_managed_by    = "caravan"
    caravan_param_batch   = "256"
    caravan_param_lr      = "0.01"
    caravan_param_opt     = "adam"
    caravan_params        = "{\"batch\":256,\"lr\":0.01,\"opt\":\"adam\"}"
    caravan_pool          = "a100"
    caravan_rerun         = "0"
    caravan_run_id        = "resnet50-3cf7567e"
    caravan_source_commit = "4f2a9c1e"
    caravan_source_git    = "https://github.com/acme/models.git"
    caravan_source_path   = "train"
    caravan_spec_hash     = "3cf7567ecaa2fa92a6d7357350bd002878465d6190ebf395637a8b6d7c203d51"
    caravan_timeout       = "12h0m0s"
    caravan_version       = "1.2.3"
  }

  group "run" {
    count            = 1
    max_run_duration = "12h0m0s"

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
      attempts  = 2
      unlimited = false
    }

    ephemeral_disk {
      size = 51200
    }

    task "train" {
      driver = "docker"

      config {
        image    = "ghcr.io/acme/train:1.4"
        command  = "python"
        args     = ["train.py", "--lr", "0.01", "--batch", "256"]
        work_dir = "$${NOMAD_TASK_DIR}/src/train"
        shm_size = 17179869184
      }

      artifact {
        source      = "git::https://github.com/acme/models.git"
        destination = "local/src"

        options {
          ref = "4f2a9c1e"
        }
      }

      env {
        CARAVAN_METRICS     = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_BATCH = "256"
        CARAVAN_PARAM_LR    = "0.01"
        CARAVAN_PARAM_OPT   = "adam"
        CARAVAN_RUN_ID      = "resnet50-3cf7567e"
        SEED                = "1"
        WANDB_MODE          = "offline"
      }

      resources {
        cpu    = 8000
        memory = 65536
        device "nvidia/gpu" {
          count = 2
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "H100"
          }
          constraint {
            attribute = "$${device.attr.memory}"
            operator  = ">="
            value     = "40 GiB"
          }
        }
      }
    }
  }
}
