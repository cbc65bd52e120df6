output "nodes" {
  description = "Names of the VMs, sorted."
  value       = sort(keys(google_compute_instance.node))
}

output "instances" {
  description = "Per node name: instance ID and internal IP."
  value = {
    for name, i in google_compute_instance.node : name => {
      id         = i.instance_id
      private_ip = i.network_interface[0].network_ip
    }
  }
}
