output "nodes" {
  description = "Names of the nodes recorded in state, sorted."
  value       = sort(keys(terraform_data.node))
}
