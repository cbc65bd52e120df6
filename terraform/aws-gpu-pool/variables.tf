variable "nodes" {
  description = "Names of the GPU machines to run. caravan sets this; each name is one instance whose Nomad client registers under exactly that name."
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
}

variable "nvidia_device_plugin_version" {
  description = "Version of nomad-device-nvidia from releases.hashicorp.com."
  type        = string
  default     = "1.1.0"
}

variable "extra_config" {
  description = "HCL appended to every client's configuration (e.g. host volumes, docker plugin settings)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every instance."
  type        = map(string)
  default     = {}
}
