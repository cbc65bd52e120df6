# A pool module that creates nothing: it records one terraform_data
# resource per node name, so caravan's integration tests can drive real
# Terraform (init, plan, apply, state locking) without any provider download.

terraform {
  # terraform_data arrived in 1.4.
  required_version = ">= 1.4"
}

resource "terraform_data" "node" {
  for_each = var.nodes

  input = {
    name      = each.key
    node_pool = var.node_pool
    log_file  = var.log_file
  }

  # Stands for a change that forces a real machine's replacement (a new
  # image, edited cloud-init): caravan must refuse to apply it to kept names.
  triggers_replace = var.generation

  # The fault hooks live in a provisioner because that is where a real
  # module's machine creation fails: during apply, after a clean plan.
  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      if [ -n "${var.log_file}" ]; then echo "create ${each.key}" >>"${var.log_file}"; fi
      sleep ${var.create_delay_seconds}
      if [ -n "${var.fail_file}" ] && [ -e "${var.fail_file}" ]; then
        echo "test-pool: refusing to create ${each.key}: $(cat "${var.fail_file}")" >&2
        exit 1
      fi
    EOT
  }

  # What a real module's destroy-time steps stand for (local-pool stops
  # its agent here): tests see from the log whether Terraform ran them.
  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      if [ -n "${self.output.log_file}" ]; then echo "destroy ${self.output.name}" >>"${self.output.log_file}"; fi
    EOT
  }
}
