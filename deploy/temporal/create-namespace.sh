#!/bin/sh
# Issue 20: registers the namespace the workers use once the server answers (docker-compose's
# `temporal-namespace` job, temporalio/admin-tools). Idempotent: an existing namespace is left as it is.
set -eu
namespace="${TEMPORAL_NAMESPACE:-default}"
address="${TEMPORAL_ADDRESS:-temporal:7233}"
attempt=0
until temporal operator cluster health --address "${address}" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  [ "${attempt}" -lt 60 ] || { echo "temporal-namespace: ${address} not healthy after 60 tries"; exit 1; }
  sleep 2
done
if temporal operator namespace describe --namespace "${namespace}" --address "${address}" >/dev/null 2>&1; then
  echo "temporal-namespace: ${namespace} exists"
else
  temporal operator namespace create --namespace "${namespace}" --retention 30d --address "${address}"
  echo "temporal-namespace: ${namespace} created"
fi
