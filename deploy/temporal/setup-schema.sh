#!/bin/sh
# Issue 20: Temporal's databases and schema, run by docker-compose's `temporal-schema` job with the
# temporalio/admin-tools image of the server's version, before temporalio/server starts (what the deprecated
# temporalio/auto-setup image did inside the server's container). Each step is idempotent, so the job runs on
# every `docker-compose up`, and a new server version's schema changes are applied by update-schema.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
port="${DB_PORT:-5432}"
schemas=/etc/temporal/schema/postgresql/v12

for database in temporal temporal_visibility; do
  tool="temporal-sql-tool --plugin postgres12 --ep ${POSTGRES_SEEDS} -u ${POSTGRES_USER} -p ${port} --db ${database}"
  $tool create
  $tool setup-schema -v 0.0
done
temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -u "${POSTGRES_USER}" -p "${port}" --db temporal \
  update-schema -d "${schemas}/temporal/versioned"
temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -u "${POSTGRES_USER}" -p "${port}" \
  --db temporal_visibility update-schema -d "${schemas}/visibility/versioned"
echo "temporal-schema: temporal and temporal_visibility are at the server's schema"
