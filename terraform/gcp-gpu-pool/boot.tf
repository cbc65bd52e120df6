# What each VM boots with. Every value reaches the VM as data: the client
# configuration is JSON (jsonencode), and it, extra_config and the versions
# are written from base64 literals in single quotes, which no value can
# end; the setup script is a static file. This file uses no provider, so
# the rendering is tested offline (internal/terraform).

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
      }, var.spot ? { meta = { caravan_preemption_notice = "gcp" } } : {})
      plugin = {
        "nomad-device-nvidia" = {
          config = {
            enabled = true
          }
        }
      }
    })
  }

  startup_script = {
    for n in var.nodes : n => templatefile("${path.module}/startup.sh.tftpl", {
      files = concat([
        { path = "/etc/caravan/nomad-version", mode = "0644", content = var.nomad_version },
        { path = "/etc/caravan/nvidia-device-plugin-version", mode = "0644", content = var.nvidia_device_plugin_version },
        { path = "/etc/nomad.d/client.json", mode = "0640", content = local.client_config[n] },
        { path = "/usr/local/sbin/caravan-node-setup", mode = "0755", content = file("${path.module}/node-setup.sh") },
        ], var.extra_config == "" ? [] : [
        { path = "/etc/nomad.d/extra.hcl", mode = "0640", content = var.extra_config },
      ])
    })
  }
}
