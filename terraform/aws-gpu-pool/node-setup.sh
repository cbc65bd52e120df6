#!/usr/bin/env bash
# caravan-node-setup: installs the Nomad client and the NVIDIA device plugin
# and starts Nomad. The boot configuration writes this file as it is, and
# every value it needs to files under /etc/caravan and /etc/nomad.d: no
# value is ever part of a script's text, so none can run as code. Safe to
# run again on every boot.
set -euo pipefail

conf=/etc/caravan

# read_version prints the version in $conf/$1, or fails: only dotted
# numbers with an optional -suffix ever reach a URL or apt.
read_version() {
  local v
  v="$(cat "$conf/$1")"
  if ! [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
    echo "caravan-node-setup: $conf/$1 does not hold a version like 1.10.5" >&2
    exit 1
  fi
  printf '%s' "$v"
}

nomad_version="$(read_version nomad-version)"
plugin_version="$(read_version nvidia-device-plugin-version)"

if ! command -v nomad >/dev/null; then
  curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --dearmor -o /usr/share/keyrings/hashicorp.gpg
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com $codename main" >/etc/apt/sources.list.d/hashicorp.list
  apt-get update -q
  apt-get install -y -q "nomad=$nomad_version-1" unzip
fi
if [ ! -x /opt/nomad/plugins/nomad-device-nvidia ]; then
  mkdir -p /opt/nomad/plugins
  curl -fsSL -o /tmp/nvidia.zip "https://releases.hashicorp.com/nomad-device-nvidia/$plugin_version/nomad-device-nvidia_${plugin_version}_linux_amd64.zip"
  unzip -o /tmp/nvidia.zip -d /opt/nomad/plugins
fi

# The package's default nomad.hcl would also start a server.
rm -f /etc/nomad.d/nomad.hcl
systemctl enable --now nomad
