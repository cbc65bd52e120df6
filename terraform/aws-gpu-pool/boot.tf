# What each machine boots with. Every value reaches the machine as data:
# the client configuration is JSON (jsonencode), extra_config and the
# versions are files written from base64, and the setup script is a static
# file. Nothing a variable holds is spliced into YAML, HCL or shell, so no
# value can end a quote or a line and run as code. This file uses no
# provider, so the rendering is tested offline (internal/terraform).

locals {
  # The Nomad client configuration of each node, in Nomad's JSON syntax.
  client_config = {
    for n in var.nodes : n => jsonencode({
      name       = n
      datacenter = var.datacenter
      data_dir   = "/opt/nomad/data"
      plugin_dir = "/opt/nomad/plugins"
      # On spot machines the client's meta turns on the caravan agent's
      # preemption watcher (drain and move ahead of the cloud's notice).
      client = merge({
        enabled   = true
        node_pool = var.node_pool
        servers   = var.servers
      }, var.spot ? { meta = { caravan_preemption_notice = "aws" } } : {})
      plugin = {
        "nomad-device-nvidia" = {
          config = {
            enabled = true
          }
        }
      }
    })
  }

  user_data = {
    for n in var.nodes : n => templatefile("${path.module}/cloud-init.yaml.tftpl", {
      write_files = concat([
        { path = "/etc/caravan/nomad-version", permissions = "0644", content = var.nomad_version },
        { path = "/etc/caravan/nvidia-device-plugin-version", permissions = "0644", content = var.nvidia_device_plugin_version },
        { path = "/etc/nomad.d/client.json", permissions = "0640", content = local.client_config[n] },
        { path = "/usr/local/sbin/caravan-node-setup", permissions = "0755", content = file("${path.module}/node-setup.sh") },
        ], var.extra_config == "" ? [] : [
        { path = "/etc/nomad.d/extra.hcl", permissions = "0640", content = var.extra_config },
      ])
    })
  }
}
