# One EC2 GPU instance per node name. Each boots with cloud-init that
# installs the Nomad client and the NVIDIA device plugin and registers the
# client in Nomad under exactly its node name, in the pool's node pool.

terraform {
  required_version = ">= 1.4"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

# A Deep Learning Base AMI ships the NVIDIA driver, which the device plugin
# needs; ami_id overrides the lookup.
data "aws_ami" "gpu" {
  count       = var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["amazon"]

  filter {
    name   = "name"
    values = [var.ami_name_filter]
  }
  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

locals {
  ami_id = var.ami_id != null ? var.ami_id : data.aws_ami.gpu[0].id
}

resource "aws_instance" "node" {
  for_each = var.nodes

  ami                    = local.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.security_group_ids
  key_name               = var.key_name
  iam_instance_profile   = var.iam_instance_profile

  user_data = local.user_data[each.key]

  # A new AMI (most_recent lookup), edited cloud-init or another instance
  # type would replace or stop-and-start every running machine, killing
  # its work; caravan refuses such a plan. Existing machines keep what they
  # booted with; machines created from now on get the change, and the
  # fleet rolls over as idle nodes are scaled in.
  lifecycle {
    ignore_changes = [ami, user_data, instance_type]
  }

  dynamic "instance_market_options" {
    for_each = var.spot ? [1] : []
    content {
      market_type = "spot"
      spot_options {
        max_price                      = var.spot_max_price
        instance_interruption_behavior = "terminate"
        spot_instance_type             = "one-time"
      }
    }
  }

  root_block_device {
    volume_size = var.root_volume_gb
    volume_type = "gp3"
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = merge(var.tags, {
    Name           = each.key
    "caravan:node" = each.key
    "caravan:pool" = var.node_pool
  })
}
