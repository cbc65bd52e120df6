# caravan-autoscaler: runs `caravan autoscale POOLSDIR` as a Nomad service,
# two instances for high availability. Both follow the cluster; the one
# holding the lock in Nomad Variables (caravan/autoscaler/leader) acts, the
# other takes over within about 25 s if the first dies. The leader creates
# the node pools of the pools it scales and publishes the pool catalogue and
# policy (caravan/autoscaler/catalog) that validate, plan and apply enforce.
#
# It holds a token with node write and the cloud credentials of the pool
# modules, so it runs in a node pool of its own (caravan-system): dedicated
# CPU clients, never autoscaled, which do not enable raw_exec at all; it
# runs isolated by the exec driver (docs/setup.md, "Threat model"). It reads the operator's pools repository,
# never the experiments': whoever can change a pool's terraform block runs
# code with those credentials.
#
# Before running it:
#   1. Install caravan (at caravan_bin) and terraform >= 1.4 (in /usr/bin or
#      /usr/local/bin, which the exec driver's chroot holds, or
#      terraform_bin in each pool's terraform block) on the clients of
#      node_pool (docs/setup.md, section 3).
#   2. Give the Terraform state a home that both instances see (see the
#      volume block below): a standby that took over with an empty state
#      would create every machine a second time.
#   3. Store a Nomad token for the autoscaler in the job's own variable:
#        nomad var put nomad/jobs/caravan-autoscaler token=<secret id>
#      Its policy (deploy/acl/caravan-autoscaler.policy.hcl): node write
#      (eligibility, drain), namespace "*" with read-job and list-jobs,
#      variables write under caravan/autoscaler/*, and node_pool read/write
#      on the node pools it scales.
#   4. Put cloud credentials where the pool modules' providers read them
#      (instance profile / workload identity of the nodes, or env below).
#
#   nomad job run -var config_git=git::https://github.com/acme/caravan-pools \
#     jobs/caravan-autoscaler.nomad.hcl

variable "config_git" {
  description = "go-getter source of the operator's repository holding the pools directory (pool blocks with terraform blocks, and the policy); not the experiments' repository."
  type        = string
}

variable "config_subdir" {
  description = "The pools directory inside that repository."
  type        = string
  default     = "."
}

variable "node_pool" {
  description = "Node pool the autoscaler runs in: caravan's own, never an autoscaled one (it would scale itself in), with raw_exec disabled on its clients (a policy's service_node_pools)."
  type        = string
  default     = "caravan-system"
}

variable "caravan_bin" {
  type    = string
  default = "/usr/local/bin/caravan"
}

variable "state_volume" {
  description = "CSI volume (multi-node-multi-writer, e.g. EFS or NFS) holding the per-pool Terraform workdirs and states."
  type        = string
  default     = "caravan-terraform-state"
}

job "caravan-autoscaler" {
  type      = "service"
  node_pool = var.node_pool

  group "autoscaler" {
    # The service leaves Nomad's catalogue (and so Prometheus's targets)
    # before the task is told to stop.
    shutdown_delay = "5s"

    # Two processes: one acts, one stands by (lock in Nomad Variables).
    count = 2

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    # Both instances mount the same Terraform states; Terraform's own state
    # lock and caravan's leader lock keep them from applying at once. With
    # no shared storage, use a host volume and drop count to 1 (restarts
    # still resume: intent is recorded in Nomad Variables before applying).
    volume "state" {
      type            = "csi"
      source          = var.state_volume
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
    }

    network {
      # A dynamic port with no "to": exec shares the host network (which
      # also reaches the cloud's metadata service for credentials), so the
      # process must listen on the host port that the service advertises.
      port "metrics" {}
    }

    service {
      name     = "caravan-autoscaler"
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

    task "autoscale" {
      # exec, not raw_exec: the task sees its own chroot (the host's /usr,
      # /etc and /bin, so Terraform and CA certificates) and the state
      # volume, not the host's other files; and Nomad mounts volumes only
      # for drivers that isolate, refusing a raw_exec task with a
      # volume_mount ("does not support host volumes").
      driver = "exec"

      artifact {
        source      = var.config_git
        destination = "local/config"
      }

      volume_mount {
        volume      = "state"
        destination = "/var/lib/caravan"
      }

      config {
        command = var.caravan_bin
        args = [
          "autoscale", "local/config/${var.config_subdir}",
          "-state-dir", "/var/lib/caravan/terraform",
          "-listen", "${NOMAD_ADDR_metrics}",
        ]
      }

      # The token comes from the job's own variable, readable by the job
      # without any extra policy; the address is the agent's task socket.
      template {
        destination = "secrets/nomad.env"
        env         = true
        data        = <<-EOT
          NOMAD_ADDR=unix://{{ env "NOMAD_SECRETS_DIR" }}/api.sock
          {{ with nomadVar "nomad/jobs/caravan-autoscaler" }}NOMAD_TOKEN={{ .token }}{{ end }}
        EOT
      }

      identity {
        env = true
      }

      env {
        CHECKPOINT_DISABLE = "1"
        PATH               = "/usr/local/bin:/usr/bin:/bin"
        # Terraform plugin downloads are cached across pools and restarts.
        TF_PLUGIN_CACHE_DIR = "/var/lib/caravan/plugin-cache"
      }

      # Terraform and its providers are the memory-hungry part.
      resources {
        cpu    = 500
        memory = 1024
      }

      # Let a running apply finish its current resource and save state
      # (caravan gives Terraform 2m after the interrupt). Nomad caps this at
      # the client's max_kill_timeout, 30s by default: raise it to at least
      # 2m30s in the client config of node_pool, or a long apply is killed
      # before it saves state (the next leader still resumes from the
      # recorded intent, but the machine being created may be orphaned).
      kill_timeout = "2m30s"
      kill_signal  = "SIGTERM"
    }
  }
}
