# caravan-controller: runs `caravan controller` as a Nomad service, for a
# cluster whose GPU pools caravan does not scale. (Where it does,
# jobs/caravan-autoscaler.nomad.hcl runs the same controller beside the
# autoscaler: run one of the two, not both.)
#
# apply, run and rerun register jobs only. The controller follows Nomad's
# event stream and writes, for every caravan job, the run's record, and
# when the run has ended, its outcome (state, exit code, why it ended, GPU
# time and cost, the end of its logs) in Nomad Variables, so that a run's
# history outlives Nomad's garbage collector. Every write is create-only,
# so a restart, a second instance or a missed event never overwrites
# history; a resync every 10 minutes catches up with what it missed.
#
# It needs no host access: the exec driver isolates it, and it talks to
# Nomad through the task's API socket.
#
# Before running it, store a Nomad token for it in the job's own variable:
#   nomad var put nomad/jobs/caravan-controller token=<secret id>
# Its policy is deploy/acl/caravan-autoscaler.policy.hcl without the node
# and node_pool rules: namespace "*" with read-job, list-jobs and read-logs
# (the log tails), and variables list/read/write under caravan/projects/*,
# caravan/runs/* and caravan/controller/*.
#
#   nomad job run jobs/caravan-controller.nomad.hcl

variable "node_pool" {
  description = "Node pool the controller runs in: caravan's own, where experiments do not run."
  type        = string
  default     = "caravan-system"
}

variable "caravan_bin" {
  type    = string
  default = "/usr/local/bin/caravan"
}

job "caravan-controller" {
  type      = "service"
  node_pool = var.node_pool

  group "controller" {
    # The service leaves Nomad's catalogue (and so Prometheus's targets)
    # before the task is told to stop.
    shutdown_delay = "5s"

    count = 1

    network {
      port "metrics" {}
    }

    service {
      name     = "caravan-controller"
      port     = "metrics"
      provider = "nomad"
      tags     = ["metrics"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    task "controller" {
      driver = "exec"

      config {
        command = var.caravan_bin
        args    = ["controller", "-listen", "0.0.0.0:${NOMAD_PORT_metrics}"]
      }

      template {
        destination = "secrets/nomad.env"
        env         = true
        data        = <<-EOT
          NOMAD_ADDR=unix://{{ env "NOMAD_SECRETS_DIR" }}/api.sock
          {{ with nomadVar "nomad/jobs/caravan-controller" }}NOMAD_TOKEN={{ .token }}{{ end }}
        EOT
      }

      identity {
        env = true
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
