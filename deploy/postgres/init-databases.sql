-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), as the
-- POSTGRES_USER superuser. One database per service: no service reads another's tables.
-- Temporal's databases (temporal, temporal_visibility) are not created here: docker-compose's
-- temporal-schema job creates them and applies Temporal's schema (deploy/temporal/setup-schema.sh).
CREATE DATABASE uncops_pledges;
CREATE DATABASE uncops_cases;
CREATE DATABASE uncops_summit;
-- Issue 18: the partner gateway's (webhook subscriptions and deliveries) and the console's (notifications).
CREATE DATABASE uncops_partners;
CREATE DATABASE uncops_console;
