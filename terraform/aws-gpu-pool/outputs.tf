output "nodes" {
  description = "Names of the instances, sorted."
  value       = sort(keys(aws_instance.node))
}

output "instances" {
  description = "Per node name: instance ID and private IP."
  value = {
    for name, i in aws_instance.node : name => {
      id         = i.id
      private_ip = i.private_ip
    }
  }
}
