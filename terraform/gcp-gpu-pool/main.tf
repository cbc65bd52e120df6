# One Compute Engine VM with GPUs attached per node name. Each boots with a
# startup script that installs the Nomad client and the NVIDIA device plugin
# and registers the client in Nomad under exactly its node name.

terraform {
  required_version = ">= 1.4"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0"
    }
  }
}

resource "google_compute_instance" "node" {
  for_each = var.nodes

  name         = each.key
  project      = var.project
  zone         = var.zone
  machine_type = var.machine_type

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.boot_disk_gb
      type  = "pd-balanced"
    }
  }

  guest_accelerator {
    type  = var.accelerator_type
    count = var.accelerator_count
  }

  network_interface {
    subnetwork = var.subnetwork
  }

  # GPU VMs cannot live-migrate; spot VMs are deleted on preemption and
  # caravan replaces them.
  scheduling {
    on_host_maintenance         = "TERMINATE"
    automatic_restart           = !var.spot
    preemptible                 = var.spot
    provisioning_model          = var.spot ? "SPOT" : "STANDARD"
    instance_termination_action = var.spot ? "DELETE" : null
  }

  dynamic "service_account" {
    for_each = var.service_account_email == null ? [] : [1]
    content {
      email  = var.service_account_email
      scopes = ["cloud-platform"]
    }
  }

  metadata = {
    install-nvidia-driver = "True"
  }

  metadata_startup_script = local.startup_script[each.key]

  labels = merge(var.labels, {
    caravan-pool = var.node_pool
  })

  # A new image in the family, an edited startup script or another machine
  # type would replace or stop every running machine, killing its work;
  # caravan refuses such a plan. Existing machines keep what they booted
  # with; machines created from now on get the change, and the fleet rolls
  # over as idle nodes are scaled in.
  lifecycle {
    ignore_changes = [boot_disk, metadata_startup_script, machine_type]
  }
}
