# Input variables. Override them with -var lr=0.01, a -var-file, or the
# environment (CARAVAN_VAR_lr=0.01); see hcl/README.md for the precedence.

variable "lr" {
  type        = number
  default     = 0.001
  description = "base learning rate of the ResNet baseline"

  validation {
    condition     = var.lr > 0 && var.lr < 1
    error_message = "lr must be in (0, 1)."
  }
}

variable "image_tag" {
  type        = string
  default     = "1.4"
  description = "tag of the training image"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.image_tag))
    error_message = "image_tag must look like MAJOR.MINOR, e.g. \"1.4\"."
  }
}

variable "datasets" {
  type        = list(string)
  default     = ["cifar10", "cifar100"]
  description = "datasets the CPU preprocessing job prepares"
}

locals {
  registry = "ghcr.io/acme"
  image    = "${local.registry}/train:${var.image_tag}"
  models   = "https://github.com/acme/models.git"
  commit   = "4f2a9c1e7b3d"
}
