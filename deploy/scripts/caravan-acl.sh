#!/usr/bin/env bash
# caravan-acl.sh: apply caravan's Nomad ACL policies (jobs/caravan-acl.policy.hcl
# and deploy/acl/*.policy.hcl) and the experiments' namespace
# (deploy/acl/ml.namespace.hcl) and, with -tokens DIR, create the role tokens:
# CI plan, CI apply and Prometheus into DIR (mode 0600), and the autoscaler's
# and agent's into their jobs' variables (nomad/jobs/<job>, item "token"),
# where jobs/*.nomad.hcl read them. Applying policies again updates them;
# each -tokens run creates new tokens (revoke old ones with
# `nomad acl token delete`).
#
# Needs nomad and jq on PATH, NOMAD_ADDR, and a management token in NOMAD_TOKEN.
#
#   deploy/scripts/caravan-acl.sh                     # policies only
#   deploy/scripts/caravan-acl.sh -tokens ./tokens    # policies and tokens
#   deploy/scripts/caravan-acl.sh -tokens ./tokens -jobs-namespace ops
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tokens=""
jobs_ns=default # namespace of the caravan-agent and caravan-autoscaler jobs

die() { echo "caravan-acl.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    -tokens) [ $# -ge 2 ] || die "-tokens needs a directory"; tokens=$2; shift 2 ;;
    -jobs-namespace) [ $# -ge 2 ] || die "-jobs-namespace needs a namespace"; jobs_ns=$2; shift 2 ;;
    -h | -help | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "caravan-acl.sh: unknown argument \"$1\"; see -h" >&2; exit 2 ;;
  esac
done

for cmd in nomad jq; do
  command -v "$cmd" >/dev/null || die "$cmd is not on PATH; install it first (docs/setup.md, section 1)"
done
[ -n "${NOMAD_TOKEN:-}" ] || die "NOMAD_TOKEN is empty; applying ACL policies needs a management token (nomad acl bootstrap)"

policy() { # name file
  [ -f "$2" ] || die "policy file $2 is missing; run this script from a caravan checkout"
  nomad acl policy apply -description "caravan: $(basename "$2")" "$1" "$2"
}
policy caravan "$root/jobs/caravan-acl.policy.hcl"
for p in caravan-plan caravan-apply caravan-user caravan-autoscaler caravan-agent prometheus; do
  policy "$p" "$root/deploy/acl/$p.policy.hcl"
done
# The experiments' namespace, which refuses raw_exec in Nomad itself.
nomad namespace apply "$root/deploy/acl/ml.namespace.hcl"

[ -n "$tokens" ] || exit 0

# token NAME POLICY [TTL]: prints the new token's secret ID, no newline.
token() {
  local args=(acl token create -name "$1" -policy "$2" -json)
  [ -z "${3:-}" ] || args+=(-ttl "$3")
  nomad "${args[@]}" | jq -ej .SecretID
}

umask 077
mkdir -p "$tokens"
token ci-caravan-plan caravan-plan 8760h >"$tokens/ci-caravan-plan"
token ci-caravan-apply caravan-apply 8760h >"$tokens/ci-caravan-apply"
token prometheus prometheus >"$tokens/prometheus"
for job in caravan-autoscaler caravan-agent; do
  # Created first, so a failure cannot overwrite a working token with an
  # empty one; handed over on stdin (token=-, printf is a builtin), never on
  # a command line.
  secret=$(token "$job" "$job")
  printf '%s' "$secret" | nomad var put -namespace "$jobs_ns" -force -out none "nomad/jobs/$job" token=-
done

cat >&2 <<MSG
Policies applied. Tokens:
  $tokens/ci-caravan-plan   -> CI secret NOMAD_TOKEN_PLAN (pull requests; expires in a year)
  $tokens/ci-caravan-apply  -> CI secret NOMAD_TOKEN_APPLY (merge to main; expires in a year)
  $tokens/prometheus        -> /etc/prometheus/nomad-token
  nomad/jobs/caravan-autoscaler and nomad/jobs/caravan-agent (namespace $jobs_ns) hold the jobs' tokens.
People get their own: nomad acl token create -name caravan-<user> -policy caravan-user -ttl 720h
MSG
