job "cores-cdf6781f" {
  type        = "batch"
  node_pool   = "cpu"
  priority    = 50
  datacenters = ["*"]

  meta {
    caravan_config_commit = "0123456789abcdef0123456789abcdef01234567"
    caravan_config_dir    = "experiments"
    caravan_config_dirty  = "false"
    caravan_depends_on    = ""
    caravan_experiment    = "cores"
    caravan_file          = "smoke.hcl"
    caravan_gpus          = "1"
    caravan_line          = "1"
    caravan_managed_by    = "caravan"
    caravan_params        = "{}"
    caravan_pool          = "cpu"
    caravan_rerun         = "0"
    caravan_run_id        = "cores-cdf6781f"
    caravan_source_commit = ""
    caravan_source_git    = ""
    caravan_source_path   = ""
    caravan_spec_hash     = "cdf6781f0f8a628381816de3b3916d253e2366d4ae2562a9cbbc47692a6a8639"
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
      attempts  = 0
      unlimited = false
    }

    task "train" {
      driver = "raw_exec"

      config {
        command = "/bin/true"
        args    = ["-c", "echo \"$$${NOMAD_META_caravan_run_id}\" %%%{x}"]
      }

      env {
        CARAVAN_METRICS = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_RUN_ID  = "cores-cdf6781f"
      }

      resources {
        cores  = 4
        memory = 1536
        device "nvidia/gpu" {
          count = 1
          constraint {
            attribute = "$${device.model}"
            operator  = "regexp"
            value     = "A100-SXM4"
          }
        }
      }
    }
  }
}
