# Nomad client agents as processes on this host, one per node name: for
# development, demos and caravan's end-to-end suite. Only the built-in
# terraform_data resource and local-exec are used, so no provider is
# downloaded and `terraform init` works offline.

terraform {
  required_version = ">= 1.4"
}

locals {
  # Each pool gets its own directory under its Terraform workdir unless the
  # caller chooses one, so two pools never share a client's data dir.
  state_dir = var.state_dir != null ? var.state_dir : "${abspath(path.root)}/local-pool"
  scripts   = abspath("${path.module}/scripts")
}

resource "terraform_data" "client" {
  for_each = var.nodes

  # Everything the stop script needs must be in the resource itself:
  # destroy-time provisioners may only read self.
  input = {
    name    = each.key
    dir     = "${local.state_dir}/${each.key}"
    scripts = local.scripts
  }

  # A changed client configuration replaces the agent (stop, then start).
  triggers_replace = {
    nomad_bin    = var.nomad_bin
    servers      = join(",", var.servers)
    node_pool    = var.node_pool
    plugin_dir   = var.plugin_dir == null ? "" : var.plugin_dir
    extra_config = var.extra_config
  }

  provisioner "local-exec" {
    command = "${local.scripts}/start.sh"
    environment = {
      NODE_NAME     = each.key
      NODE_DIR      = "${local.state_dir}/${each.key}"
      STATE_DIR     = local.state_dir
      NOMAD_BIN     = var.nomad_bin
      SERVERS       = join(",", var.servers)
      NODE_POOL     = var.node_pool
      PLUGIN_DIR    = var.plugin_dir == null ? "" : var.plugin_dir
      EXTRA_CONFIG  = var.extra_config
      START_TIMEOUT = tostring(var.start_timeout_seconds)
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "${self.output.scripts}/stop.sh"
    environment = {
      NODE_NAME = self.output.name
      NODE_DIR  = self.output.dir
    }
  }
}
