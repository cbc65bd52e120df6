job "resnet-b8b3bf0f" {
  type        = "batch"
  node_pool   = "gpu"
  priority    = 50
  datacenters = ["*"]

  meta {
    caravan_config_commit = "0123456789abcdef0123456789abcdef01234567"
    caravan_config_dir    = "experiments"
    caravan_config_dirty  = "false"
    caravan_depends_on    = ""
    caravan_experiment    = "resnet"
    caravan_file          = "exp/resnet.hcl"
    caravan_gpus          = "1"
    caravan_line          = "1"
    caravan_managed_by    = "caravan"
    caravan_param_lr      = "0.001"
    caravan_params        = "{\"lr\":0.001}"
    caravan_pool          = "gpu"
    caravan_rerun         = "0"
    caravan_run_id        = "resnet-b8b3bf0f"
    caravan_source_commit = ""
    caravan_source_git    = ""
    caravan_source_path   = ""
    caravan_spec_hash     = "b8b3bf0f72a1fd7766ebcaf9ad8cf1f79c26d1acd33d6a77dc78a4b700e24a55"
    caravan_timeout       = ""
    caravan_version       = "1.2.3"
  }

  group "run" {
    count = 1

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 1
      unlimited = false
    }

    task "train" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "env | grep -i -E 'NVIDIA|NOMAD_META' ; sleep 40"]
      }

      env {
        CARAVAN_METRICS  = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_PARAM_LR = "0.001"
        CARAVAN_RUN_ID   = "resnet-b8b3bf0f"
        LR               = "$${NOMAD_META_caravan_dollar}{NOMAD_META_caravan_params_lr}"
      }

      meta {
        caravan_dollar = "$"
      }

      resources {
        cpu    = 100
        memory = 64
        device "nvidia/gpu" {
          count = 1
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
