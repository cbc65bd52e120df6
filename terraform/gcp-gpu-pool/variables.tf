variable "nodes" {
  description = "Names of the GPU VMs to run. caravan sets this; each name is one VM (and its instance name) whose Nomad client registers under exactly that name. Names must be valid GCE instance names."
  type        = set(string)
  default     = []
  validation {
    condition     = alltrue([for n in var.nodes : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", n))])
    error_message = "Every node name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (caravan's names are)."
  }
}

variable "node_pool" {
  description = "Nomad node pool every client registers in."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.node_pool))
    error_message = "node_pool must be a Nomad node pool name: 1-128 letters, digits, '_' or '-'."
  }
}

variable "servers" {
  description = "Nomad server addresses (host:port of RPC, or a cloud auto-join string) the clients join."
  type        = list(string)
  validation {
    condition     = length(var.servers) > 0 && alltrue([for s in var.servers : length(s) > 0 && !can(regex("[[:cntrl:]]", s))])
    error_message = "servers must list at least one address, each non-empty and without control characters (newlines, tabs)."
  }
}

variable "datacenter" {
  description = "Nomad datacenter of the clients."
  type        = string
  default     = "dc1"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.datacenter))
    error_message = "datacenter must be 1-128 letters, digits, '.', '_' or '-'."
  }
}

variable "project" {
  description = "GCP project; null uses the provider's default."
  type        = string
  default     = null
}

variable "zone" {
  description = "Zone of the VMs, one that offers accelerator_type."
  type        = string
}

variable "machine_type" {
  description = "Machine type, e.g. a2-highgpu-8g (accelerators included) or n1-standard-16."
  type        = string
}

variable "accelerator_type" {
  description = "GPU type attached to each VM, e.g. nvidia-tesla-a100 or nvidia-l4."
  type        = string
}

variable "accelerator_count" {
  description = "GPUs per VM."
  type        = number
  default     = 1
}

variable "subnetwork" {
  description = "Subnetwork self link or name; it must reach the Nomad servers."
  type        = string
}

variable "image" {
  description = "Boot image; the default Deep Learning VM family installs the NVIDIA driver when metadata install-nvidia-driver is set."
  type        = string
  default     = "projects/deeplearning-platform-release/global/images/family/common-cu123-ubuntu-2204-py310"
}

variable "boot_disk_gb" {
  description = "Boot disk size in GB."
  type        = number
  default     = 200
}

variable "spot" {
  description = "Run spot VMs (deleted on preemption; caravan replaces them)."
  type        = bool
  default     = false
}

variable "service_account_email" {
  description = "Service account of the VMs; null for none."
  type        = string
  default     = null
}

variable "nomad_version" {
  description = "Nomad version installed from the HashiCorp apt repository."
  type        = string
  default     = "1.10.5"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.]+)?$", var.nomad_version))
    error_message = "nomad_version must be a release version such as 1.10.5 (digits and dots, optionally -suffix); it names an apt package."
  }
}

variable "nvidia_device_plugin_version" {
  description = "Version of nomad-device-nvidia from releases.hashicorp.com."
  type        = string
  default     = "1.1.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.]+)?$", var.nvidia_device_plugin_version))
    error_message = "nvidia_device_plugin_version must be a release version such as 1.1.0 (digits and dots, optionally -suffix); it is part of a download URL."
  }
}

variable "extra_config" {
  description = "HCL added to every client's configuration as its own file, /etc/nomad.d/extra.hcl. It is written as data, never run."
  type        = string
  default     = ""
}

variable "labels" {
  description = "Labels added to every VM."
  type        = map(string)
  default     = {}
}
