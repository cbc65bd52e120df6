variable "nodes" {
  description = "Names of the GPU VMs to run. caravan sets this; each name is one VM (and its instance name) whose Nomad client registers under exactly that name. Names must be valid GCE instance names."
  type        = set(string)
  default     = []
}

variable "node_pool" {
  description = "Nomad node pool every client registers in."
  type        = string
}

variable "servers" {
  description = "Nomad server addresses (host:port of RPC, or a cloud auto-join string) the clients join."
  type        = list(string)
}

variable "datacenter" {
  description = "Nomad datacenter of the clients."
  type        = string
  default     = "dc1"
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
}

variable "nvidia_device_plugin_version" {
  description = "Version of nomad-device-nvidia from releases.hashicorp.com."
  type        = string
  default     = "1.1.0"
}

variable "extra_config" {
  description = "HCL appended to every client's configuration."
  type        = string
  default     = ""
}

variable "labels" {
  description = "Labels added to every VM."
  type        = map(string)
  default     = {}
}
