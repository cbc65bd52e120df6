# prometheus: what Prometheus's nomad_sd_configs needs to list the caravan
# services (deploy/prometheus.yml). Nomad serves service registrations to
# tokens with read-job in their namespace.
#
#   nomad acl policy apply -description "Prometheus service discovery" prometheus deploy/acl/prometheus.policy.hcl
#   nomad acl token create -name prometheus -policy prometheus -json | jq -r .SecretID > /etc/prometheus/nomad-token

namespace "default" {
  capabilities = ["read-job"]
}
