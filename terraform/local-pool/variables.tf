variable "nodes" {
  description = "Names of the Nomad clients to run. caravan sets this; each name is one agent process whose node name is exactly the name."
  type        = set(string)
  default     = []
}

variable "nomad_bin" {
  description = "The nomad binary, a path or a name found on PATH."
  type        = string
  default     = "nomad"
}

variable "servers" {
  description = "Server RPC addresses (host:port) the clients join."
  type        = list(string)
  default     = ["127.0.0.1:4647"]
}

variable "node_pool" {
  description = "Nomad node pool every client registers in."
  type        = string
  default     = "default"
}

variable "plugin_dir" {
  description = "Directory of Nomad plugins (device plugins such as nomad-device-nvidia); null for Nomad's default."
  type        = string
  default     = null
}

variable "extra_config" {
  description = "HCL text appended to every client's configuration, for example plugin blocks."
  type        = string
  default     = ""
}

variable "state_dir" {
  description = "Where each client's data dir, configuration, log and pid file live (one subdirectory per node name); null means <terraform workdir>/local-pool."
  type        = string
  default     = null
}

variable "start_timeout_seconds" {
  description = "How long creating a client waits for its HTTP API to answer; 0 only checks that the process is alive."
  type        = number
  default     = 30
}
