job "smoke-b9276bba" {
  type        = "batch"
  node_pool   = "cpu"
  priority    = 50
  datacenters = ["*"]

  meta {
    caravan_config_commit = "0123456789abcdef0123456789abcdef01234567"
    caravan_config_dir    = "experiments"
    caravan_config_dirty  = "false"
    caravan_depends_on    = ""
    caravan_experiment    = "smoke"
    caravan_file          = "smoke.hcl"
    caravan_gpus          = "0"
    caravan_line          = "1"
    caravan_managed_by    = "caravan"
    caravan_params        = "{}"
    caravan_pool          = "cpu"
    caravan_rerun         = "0"
    caravan_run_id        = "smoke-b9276bba"
    caravan_source_commit = ""
    caravan_source_git    = ""
    caravan_source_path   = ""
    caravan_spec_hash     = "b9276bba224e8855d18026af3a218b7b69dcb840d211aec752965ee41ef4dd66"
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
      driver = "exec"

      config {
        command = "/bin/true"
      }

      env {
        CARAVAN_METRICS = "$${NOMAD_ALLOC_DIR}/caravan-metrics.jsonl"
        CARAVAN_RUN_ID  = "smoke-b9276bba"
      }

      resources {
      }
    }
  }
}
