variable "nodes" {
  description = "Names of the nodes that should exist. caravan sets this; one terraform_data resource is kept per name."
  type        = set(string)
  default     = []
}

variable "node_pool" {
  description = "Nomad node pool the nodes would join; recorded only."
  type        = string
  default     = "default"
}

variable "create_delay_seconds" {
  description = "Seconds each node's creation takes, to test an apply that is interrupted half way."
  type        = number
  default     = 0

  validation {
    condition     = var.create_delay_seconds >= 0
    error_message = "create_delay_seconds must be zero or more."
  }
}

variable "fail_file" {
  description = "While a file exists at this path, creating a node fails with the file's content as the reason. Empty disables the hook."
  type        = string
  default     = ""
}

variable "generation" {
  description = "Changing it forces every existing node's replacement, like a new machine image would; for tests of caravan's refusal to replace machines it keeps. Null leaves it unset."
  type        = string
  default     = null
}

variable "log_file" {
  description = "When set, every creation and every destruction of a node appends a line (\"create NAME\", \"destroy NAME\") to this file, so that tests see what Terraform really ran. Empty disables it."
  type        = string
  default     = ""
}
