variable "nodes" {
  description = "Names of the GPU machines to run. caravan sets this; each name is one instance whose Nomad client registers under exactly that name."
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

variable "instance_type" {
  description = "EC2 instance type, e.g. p4d.24xlarge or g5.xlarge."
  type        = string
}

variable "subnet_id" {
  description = "Subnet the instances start in; it must reach the Nomad servers."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the instances (Nomad client ports 4646-4648 to the servers)."
  type        = list(string)
  default     = []
}

variable "key_name" {
  description = "EC2 key pair for SSH; null for none."
  type        = string
  default     = null
}

variable "iam_instance_profile" {
  description = "Instance profile name, e.g. for cloud auto-join or pulling images; null for none."
  type        = string
  default     = null
}

variable "ami_id" {
  description = "AMI with the NVIDIA driver installed; null looks up the newest image matching ami_name_filter."
  type        = string
  default     = null
}

variable "ami_name_filter" {
  description = "Name filter of the Amazon-owned AMI used when ami_id is null."
  type        = string
  default     = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
}

variable "spot" {
  description = "Run the instances as one-time spot instances (terminated on interruption; caravan replaces them)."
  type        = bool
  default     = false
}

variable "spot_max_price" {
  description = "Maximum hourly spot price in USD as a string; null means up to the on-demand price."
  type        = string
  default     = null
}

variable "root_volume_gb" {
  description = "Size of the root volume in GiB (images and datasets land here)."
  type        = number
  default     = 200
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
  description = "HCL added to every client's configuration as its own file, /etc/nomad.d/extra.hcl (e.g. host volumes, docker plugin settings). It is written as data, never run."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every instance."
  type        = map(string)
  default     = {}
}
