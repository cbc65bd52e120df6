# caravan-agent: runs the node agent on every client node as a Nomad system
# job. It serves GPU, run and node metrics for Prometheus on port 9464 and
# writes each run's usage summary to caravan/runs/<run-id>/usage in Nomad
# Variables (read by `caravan report`).
#
# Before running it:
#   1. Install the agent binary (`make agent` builds bin/caravan-agent, cgo
#      on) at caravan_bin on the nodes. It loads libnvidia-ml.so.1 from the
#      NVIDIA driver at run time; without it, GPUs are read from the Nomad
#      device plugin's stats.
#   2. Store a Nomad token for the agent in the job's own variable:
#        nomad var put nomad/jobs/caravan-agent token=<secret id>
#      Its policy needs: node read, namespace "*" with read-job (allocations
#      and their stats), and variables write under caravan/runs/*.
#   3. Let Prometheus find the agents: the service below is registered in
#      Nomad's service catalog (nomad_sd_configs), tag "metrics".
#
#   nomad job run jobs/caravan-agent.nomad.hcl

variable "node_pool" {
  description = "Node pool(s) to run on; \"all\" covers every pool, GPU and CPU alike."
  type        = string
  default     = "all"
}

variable "caravan_bin" {
  description = "The agent binary on each node: bin/caravan-agent from `make agent`."
  type        = string
  default     = "/usr/local/bin/caravan-agent"
}

variable "port" {
  description = "Metrics port on each node's address (what Prometheus scrapes)."
  type        = number
  default     = 9464
}

job "caravan-agent" {
  type      = "system"
  node_pool = var.node_pool
  priority  = 90

  group "agent" {
    # The service leaves Nomad's catalogue (and so Prometheus's targets)
    # before the task is told to stop.
    shutdown_delay = "5s"

    network {
      port "metrics" {
        static = var.port
      }
    }

    service {
      name     = "caravan-agent"
      port     = "metrics"
      provider = "nomad"
      tags     = ["metrics"]

      check {
        # The index page, not /metrics: a health check every 30 s should
        # not cost a full read of every GPU and of Nomad on top of the
        # scrapes (and a hung GPU would make it slow, not unhealthy).
        type     = "http"
        path     = "/"
        interval = "30s"
        timeout  = "5s"
      }
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "10s"
      mode     = "delay"
    }

    task "agent" {
      # raw_exec: the agent needs the host's /proc (to map GPU processes to
      # allocations) and the NVIDIA driver, exactly as the host sees them.
      # Clients enable raw_exec for it; experiments cannot use it, since
      # their namespace enables only docker and exec
      # (deploy/acl/ml.namespace.hcl).
      driver = "raw_exec"

      config {
        command = var.caravan_bin
        args = [
          # Binding to the node's address, not all interfaces: only what
          # the metrics port is published on.
          "-listen", "${NOMAD_IP_metrics}:${NOMAD_PORT_metrics}",
          "-interval", "5s",
          "-node", "${node.unique.name}",
          "-node-id", "${node.unique.id}",
          "-pool", "${node.pool}",
          "-proc-root", "/proc",
        ]
      }

      # The token comes from the job's own variable; the address is the
      # local client's task API socket, which also serves the client stats
      # endpoints (/v1/client/stats, /v1/client/allocation/:id/stats).
      template {
        destination = "secrets/nomad.env"
        env         = true
        data        = <<-EOT
          NOMAD_ADDR=unix://{{ env "NOMAD_SECRETS_DIR" }}/api.sock
          {{ with nomadVar "nomad/jobs/caravan-agent" }}NOMAD_TOKEN={{ .token }}{{ end }}
        EOT
      }

      identity {
        env = true
      }

      # The agent caps its Go runtime at GOMAXPROCS=2 and GOGC=50 unless an
      # env block sets them, which keeps its memory and CPU per scrape down
      # on nodes with many cores.

      # memory reserves more than the agent's resident-memory target on a
      # GPU node with NVML loaded, and memory_max leaves headroom for a
      # driver that maps more where the cluster enables memory
      # oversubscription (elsewhere Nomad ignores it and says so when the
      # job is validated); the target and the measurements are in
      # docs/performance.md ("Agent memory").
      resources {
        cpu        = 100
        memory     = 64
        memory_max = 128
      }

      kill_timeout = "15s" # time to write open usage summaries
      kill_signal  = "SIGTERM"
    }
  }
}
