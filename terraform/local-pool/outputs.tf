output "nodes" {
  description = "Names of the clients started, sorted."
  value       = sort(keys(terraform_data.client))
}

output "clients" {
  description = "Per node name: the client's directory (config, log, pid file, data dir)."
  value       = { for name, c in terraform_data.client : name => c.output.dir }
}
