-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), as the
-- POSTGRES_USER superuser. One database per service: no service reads another's tables.
-- Temporal's databases (temporal, temporal_visibility) are not created here: temporalio/auto-setup
-- creates them and applies its own schema on first start.
CREATE DATABASE uncops_pledges;
CREATE DATABASE uncops_cases;
CREATE DATABASE uncops_summit;
CREATE DATABASE uncops_console;  -- the console's notifications to people (issue 18)
